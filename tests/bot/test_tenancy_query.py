"""The tenant middleware's one query: the org an update sees, the role there, and that org's
VIP rules read with them (`bot.middlewares.tenant`), against PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

from bot.middlewares.tenant import load_tenancy, seen_org, seen_rules
from core.settings import Settings
from intel.vip import VipRules
from intel.vip_rules import save_rules, vip_rules_for
from store.models import Role
from store.orgs import link_chat, remove_member, save_org, set_role, upsert_user
from tests.bot.conftest import new_group_id, new_user_id

DEFAULTS = VipRules.from_settings(Settings(_env_file=None))


async def _org(sessions, keybox, unique: str, label: str, threshold: int | None) -> int:
    """An org; with `threshold`, it saved VIP rules of its own with that threshold."""
    async with sessions.begin() as session:
        org = await save_org(
            session,
            calendar_id=f"cal-{label}-{unique}",
            name=label,
            luma_key=f"secret-{label}-{unique}",
            keybox=keybox,
        )
        if threshold is not None:
            own = replace(DEFAULTS, threshold=threshold)
            await save_rules(session, org_id=org.id, rules=own, user_id=None)
        return org.id


async def _seen(sessions, user: int, chat: int, *, private: bool):
    """What the middleware works out for `user` in `chat`: (org id, role, rules), and the
    rules `vip_rules_for` gives that org (what `Ctx.vip_rules` read before)."""
    async with sessions() as session:
        found = await load_tenancy(session, user, chat, private=private)
        org, role = seen_org(found, private)
        rules = seen_rules(found, org, DEFAULTS)
        expected = await vip_rules_for(session, org_id=org.id, defaults=DEFAULTS) if org else None
        return (org.id if org else None), role, rules, expected


async def test_a_group_sees_its_org_and_that_orgs_rules(sessions, keybox, unique: str) -> None:
    alpha = await _org(sessions, keybox, unique, "alpha", threshold=11)
    bravo = await _org(sessions, keybox, unique, "bravo", threshold=22)
    admin, member = new_user_id(), new_user_id()
    group = new_group_id()
    async with sessions.begin() as session:
        await link_chat(
            session, chat_id=group, org_id=bravo, kind="supergroup", title="", linked_by=admin
        )
        await set_role(session, org_id=alpha, user_id=member, role=Role.ADMIN)
        await set_role(session, org_id=bravo, user_id=member, role=Role.MEMBER)
        user = await upsert_user(session, user_id=member, username=None, full_name="M")
        user.active_org_id = alpha  # their DM works with alpha; the group is bravo's
    org, role, rules, expected = await _seen(sessions, member, group, private=False)
    assert (org, role) == (bravo, Role.MEMBER)
    assert rules == expected and rules is not None and rules.threshold == 22


async def test_a_dm_sees_the_active_org_and_its_rules(sessions, keybox, unique: str) -> None:
    alpha = await _org(sessions, keybox, unique, "alpha", threshold=33)
    bravo = await _org(sessions, keybox, unique, "bravo", threshold=None)
    person = new_user_id()
    async with sessions.begin() as session:
        await link_chat(
            session, chat_id=person, org_id=bravo, kind="private", title="", linked_by=person
        )
        await set_role(session, org_id=alpha, user_id=person, role=Role.MEMBER)
    async with sessions.begin() as session:
        user = await upsert_user(session, user_id=person, username=None, full_name="P")
        user.active_org_id = alpha
    org, role, rules, expected = await _seen(sessions, person, person, private=True)
    assert (org, role) == (alpha, Role.MEMBER)
    assert rules == expected and rules is not None and rules.threshold == 33
    # Taken out of alpha: the DM falls back to the org it was linked to, with its rules
    # (none saved: the defaults).
    async with sessions.begin() as session:
        await remove_member(session, org_id=alpha, user_id=person)
    org, role, rules, expected = await _seen(sessions, person, person, private=True)
    assert (org, role) == (bravo, Role.ADMIN)
    assert rules == expected == DEFAULTS


async def test_rules_saved_meanwhile_are_seen_by_the_next_update(
    sessions, keybox, unique: str
) -> None:
    org_id = await _org(sessions, keybox, unique, "alpha", threshold=None)
    person, group = new_user_id(), new_group_id()
    async with sessions.begin() as session:
        await link_chat(
            session, chat_id=group, org_id=org_id, kind="supergroup", title="", linked_by=person
        )
    assert (await _seen(sessions, person, group, private=False))[2] == DEFAULTS
    async with sessions.begin() as session:
        own = replace(DEFAULTS, threshold=44)
        await save_rules(session, org_id=org_id, rules=own, user_id=person)
    rules = (await _seen(sessions, person, group, private=False))[2]
    assert rules is not None and rules.threshold == 44


async def test_a_first_message_leaves_the_rules_to_be_read_later(
    sessions, keybox, unique: str
) -> None:
    org_id = await _org(sessions, keybox, unique, "alpha", threshold=55)
    linker, stranger, group = new_user_id(), new_user_id(), new_group_id()
    async with sessions.begin() as session:
        await link_chat(
            session, chat_id=group, org_id=org_id, kind="supergroup", title="", linked_by=linker
        )
    org, role, rules, expected = await _seen(sessions, stranger, group, private=False)
    assert (org, role) == (org_id, None)
    assert rules is None  # no user row, nothing joined: Ctx.vip_rules reads them if asked
    assert expected is not None and expected.threshold == 55
