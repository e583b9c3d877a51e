"""The approval rubric's reader, built the same way in every process that applies policies.

The bot, the API and the worker each judge guests by an org's rubric (previews, dry runs and
live decisions), and each must count those Gemini calls against the org's plan quota.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing import Billing, PlanQuota
from core.settings import Settings

if TYPE_CHECKING:
    from nlp.rubric import GeminiRubric


def rubric_reader(
    settings: Settings, sessions: async_sessionmaker[AsyncSession]
) -> GeminiRubric | None:
    """Gemini as the rubric's reader, its calls counted against each org's plan quota; None
    without a key. The SDK is imported only then: about half a second in every process."""
    if settings.gemini_api_key is None:
        return None
    from nlp.rubric import GeminiRubric

    return GeminiRubric.from_settings(
        settings, PlanQuota(sessions, Billing.from_settings(settings))
    )
