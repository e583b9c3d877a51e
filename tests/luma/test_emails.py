"""Emails are checked before any request, and one inbox gets one identity key."""

from __future__ import annotations

import pytest

from luma.client import LumaPool
from luma.emails import email_domain, identity_key, normalize_email
from luma.errors import BadRequestError, InvalidEmailError
from standins.luma import SimulatorConfig, running_simulator


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("ann@example.com", "ann@example.com"),
        ("  Ann.Lee@Example.COM ", "Ann.Lee@example.com"),
        ("bo+events@sub.example.co.uk", "bo+events@sub.example.co.uk"),
        ("josé@bücher.de", "josé@bücher.de"),
    ],
)
def test_normalize_accepts_and_canonicalizes(raw: str, expected: str) -> None:
    assert normalize_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("no-at-sign.example.com", "@-sign"),
        ("two@@example.com", "invalid characters"),
        ("ann@localhost", "period"),
        ("ann@exa mple.com", "invalid characters"),
        ("ann.@example.com", "period"),
    ],
)
def test_normalize_rejects_with_a_clear_reason(raw: str, reason: str) -> None:
    with pytest.raises(InvalidEmailError) as caught:
        normalize_email(raw)
    assert isinstance(caught.value, BadRequestError)
    assert reason in caught.value.user_message
    assert caught.value.user_message.startswith(f"“{raw.strip()}” is not a valid email")


@pytest.mark.parametrize(
    ("email", "key"),
    [
        ("Ann@Example.com", "ann@example.com"),
        ("ann+vip@example.com", "ann@example.com"),
        ("Jane.Doe+events@gmail.com", "janedoe@gmail.com"),
        ("j.a.n.e.doe@googlemail.com", "janedoe@gmail.com"),
        ("jane.doe@company.com", "jane.doe@company.com"),  # dots matter outside Gmail
        ("+only@example.com", "+only@example.com"),
    ],
)
def test_identity_key(email: str, key: str) -> None:
    assert identity_key(email) == key


def test_identity_key_groups_one_inbox() -> None:
    spellings = ["Jane.Doe@gmail.com", "janedoe+luma@googlemail.com", "JANEDOE@GMAIL.COM"]
    assert len({identity_key(email) for email in spellings}) == 1


def test_email_domain() -> None:
    assert email_domain("Ann@Sub.Example.COM") == "sub.example.com"
    assert email_domain("not-an-email") == ""


async def test_invalid_emails_are_refused_before_any_request() -> None:
    config = SimulatorConfig(calendars=1, events_per_calendar=0)
    async with running_simulator(config) as sim, LumaPool(sim.base_url) as pool:
        calendar = sim.calendars[0]
        event_id = sim.state.add_event(calendar.id, guests=1)
        luma = pool.client(calendar.api_key, budget_key=calendar.id)
        attempts = [
            luma.add_guests(event_id, [("good@example.com", "Good"), ("bad@", "Bad")]),
            luma.send_invites(event_id, ["fine@example.com", "not an email"]),
            luma.get_guest(event_id, email="nobody@@example.com"),
            luma.update_guest_status(event_id, email="x@localhost", status="approved"),
        ]
        for attempt in attempts:
            with pytest.raises(InvalidEmailError):
                await attempt
        assert sim.state.stats()["requests_total"] == 0
        assert sim.state.writes == []
