"""Trend questions in plain language: the intent and what they are grouped by."""

from __future__ import annotations

import pytest

from intel.trends import Dimension
from nlp.context import ParseContext
from nlp.intent import Intent, IntentName
from nlp.offline import OfflineParser
from tests.nlp.conftest import NOW


@pytest.mark.parametrize(
    ("text", "group_by"),
    [
        ("registration trends by month", "month"),
        ("which domains attend most", "domain"),
        ("trends by city", "city"),
        ("registration trends per company", "company"),
        ("no-show rate over time", "month"),
        ("attendance trends per event", "event"),
        ("show me trends", None),
    ],
)
def test_trend_questions(text: str, group_by: str | None) -> None:
    intent = OfflineParser().parse(text, ParseContext(now=NOW, timezone="UTC"))
    assert (intent.intent, intent.group_by) == (IntentName.TRENDS, group_by)
    if group_by:
        assert Dimension(group_by)  # every value the parser gives is a dimension we group by


def test_group_by_is_validated_and_kept_only_for_trends() -> None:
    with pytest.raises(ValueError):
        Intent.model_validate({"intent": "trends", "group_by": "weather"})
    listed = Intent.model_validate({"intent": "list_events", "group_by": "city"})
    assert listed.group_by is None and "group_by" not in listed.public_dict()
