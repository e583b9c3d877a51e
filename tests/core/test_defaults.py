"""Each default is written once (`core.defaults`): settings, config classes and the workflow
inputs' decoding defaults all agree, and the config classes take their values from settings."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from activities.enrichment import EnrichmentConfig
from core import defaults
from core.settings import Settings
from intel.vip import VipRules
from luma import BudgetPolicy
from workflows.contracts.bulk import BulkStatusInput, ResolveInput
from workflows.contracts.enrichment import EnrichBatch, EnrichInput
from workflows.contracts.followups import FollowupBatch, FollowupInput
from workflows.contracts.summary import SummaryInput
from workflows.contracts.sync import SyncInput


@pytest.fixture
def settings() -> Settings:
    return Settings(_env_file=None)


def default_of(cls: type, name: str) -> object:
    (found,) = [f for f in dataclasses.fields(cls) if f.name == name]
    return found.default


def test_workflow_inputs_decode_old_histories_with_the_settings_defaults(
    settings: Settings,
) -> None:
    assert default_of(BulkStatusInput, "batch_size") == settings.bulk_batch_size
    assert default_of(BulkStatusInput, "concurrency") == settings.bulk_concurrency
    assert (
        default_of(BulkStatusInput, "heartbeat_timeout_seconds")
        == default_of(SyncInput, "heartbeat_timeout_seconds")
        == default_of(FollowupInput, "heartbeat_timeout_seconds")
        == settings.heartbeat_timeout_seconds
    )
    assert default_of(BulkStatusInput, "pages_per_resolve") == default_of(ResolveInput, "max_pages")
    assert (
        default_of(SyncInput, "summary_delay_minutes")
        == default_of(SummaryInput, "delay_minutes")
        == settings.summary_delay_minutes
    )
    assert (
        default_of(FollowupInput, "batch_size")
        == default_of(FollowupBatch, "batch_size")
        == settings.followup_batch_size
    )
    assert default_of(EnrichInput, "batch_size") == default_of(EnrichBatch, "limit")


def test_luma_budget_defaults_are_the_settings_defaults(settings: Settings) -> None:
    policy = BudgetPolicy()
    assert (policy.limit, policy.window) == (
        settings.luma_rate_limit,
        settings.luma_rate_window_seconds,
    )


def test_vip_rules_come_from_settings(settings: Settings) -> None:
    rules = VipRules.from_settings(settings)
    assert (rules.threshold, rules.repeat_min_events) == (
        defaults.VIP_THRESHOLD,
        defaults.REPEAT_MIN_EVENTS,
    )
    assert all(
        f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        for f in dataclasses.fields(VipRules)
    )
    configured = Settings(_env_file=None, vip_threshold=70, repeat_min_events=3)
    rules = VipRules.from_settings(configured)
    assert (rules.threshold, rules.repeat_min_events) == (70, 3)
    # The shared maps are read-only: a caller cannot change everyone's default.
    with pytest.raises(TypeError):
        defaults.VIP_TAG_POINTS["vip"] = 0  # type: ignore[index]
    assert settings.vip_tag_points == dict(defaults.VIP_TAG_POINTS)


def test_enrichment_config_has_no_defaults_of_its_own(settings: Settings) -> None:
    assert all(
        f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        for f in dataclasses.fields(EnrichmentConfig)
    )
    config = EnrichmentConfig.from_settings(settings)
    assert config.ttl == timedelta(days=settings.enrichment_ttl_days)
    assert config.timeout_seconds == settings.enrichment_timeout_seconds
    assert config.base_urls == {
        "pdl": settings.enrichment_pdl_url,
        "apollo": settings.enrichment_apollo_url,
    }
