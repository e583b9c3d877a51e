"""Checking proposed VIP rules: the settings' ranges, bounded lists, friendly sentences; and
the stored shape read back over the defaults."""

from __future__ import annotations

from typing import Any

import pytest

from core.settings import Settings
from intel.vip import PersonFacts, VipRules, score
from services import vip_rules
from services.caller import Caller, Forbidden, Invalid
from store.models import Role

DEFAULTS = VipRules.from_settings(Settings(_env_file=None))


@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        ({"threshold": 0}, "the VIP threshold as a whole number from 1 to 10000"),
        ({"threshold": True}, "the VIP threshold as a whole number"),
        ({"attended_cap": 0}, "the cap on attended events as a whole number from 1 to 100"),
        ({"attendance_rate": 0}, "attendance rate as a share above 0 and at most 1"),
        ({"attendance_rate": 1.2}, "attendance rate as a share above 0 and at most 1"),
        ({"company_points": -1}, "the points for a listed company"),
        ({"tag_points": {"1st": 5}}, "“1st” is not a tag"),
        ({"tag_points": {"vip": 1001}}, "points for tag “vip” as a whole number from 0 to 1000"),
        ({"tag_points": {f"t{i}": 1 for i in range(51)}}, "At most 50 tags"),
        ({"seniority_points": {"C-Suite": "a lot"}}, "seniority “c_suite”"),
        ({"companies": ["x" * 101]}, "not a company name or domain"),
        ({"companies": [f"c{i}.com" for i in range(201)]}, "At most 200 VIP companies"),
        ({"repeat_min_events": 3}, "Unknown VIP rule field(s): repeat_min_events"),
    ],
)
def test_refusals_say_what_is_wrong(change: dict[str, Any], sentence: str) -> None:
    with pytest.raises(Invalid) as refused:
        vip_rules.checked(DEFAULTS, change)
    assert sentence in refused.value.message


def test_spellings_are_normalized_and_unset_fields_keep_the_defaults() -> None:
    rules = vip_rules.checked(
        DEFAULTS,
        {
            "tag_points": {"#Speaker": 70},
            "seniority_points": {"Vice President": 35},
            "companies": [" Acme Labs ", "acme.com", "", "ACME.COM"],
            "attendance_rate": 1,
        },
    )
    assert rules.tag_points == {"speaker": 70}
    assert rules.seniority_points == {"vice_president": 35}
    assert rules.companies == frozenset({"acme labs", "acme.com"})
    assert rules.threshold == DEFAULTS.threshold and rules.attendance_rate == 1.0
    assert DEFAULTS.with_stored(rules.stored()) == rules  # what is stored reads back the same
    found = score(PersonFacts(tags=("speaker",), seniority="Vice-President"), rules)
    assert found.score == 105 and found.is_vip


def test_the_portals_text_fields() -> None:
    assert vip_rules.parse_points("vip=100, #speaker: 50\npress 30", "tag") == {
        "vip": 100,
        "speaker": 50,
        "press": 30,
    }
    assert vip_rules.parse_points(" ", "tag") == {}
    with pytest.raises(Invalid, match="Write the seniority points as name=points"):
        vip_rules.parse_points("vp", "seniority")
    assert vip_rules.parse_companies("Acme, beta.io\n\nGamma;") == ["Acme", "beta.io", "Gamma"]
    assert vip_rules.points_text({"vip": 100, "press": 30}) == "vip=100, press=30"


async def test_members_cannot_save_or_reset(sessions, org) -> None:
    member = Caller(org.org_id, Role.MEMBER, "web", user_id=1)
    async with sessions() as session:
        with pytest.raises(Forbidden):
            await vip_rules.save(member, session, {"threshold": 60}, defaults=DEFAULTS)
        with pytest.raises(Forbidden):
            await vip_rules.reset(member, session, defaults=DEFAULTS)
        state = await vip_rules.current(member, session, defaults=DEFAULTS)
    assert state.rules == DEFAULTS and not state.own
