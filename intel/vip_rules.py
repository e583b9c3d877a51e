"""Each org's VIP rules: what its admins saved, else the settings' defaults; and a preview of
what a change would do to the org's real guests.

`vip_rules_for` is the one way anything that scores an org's people gets its rules (the bot,
the API, the portal and the workflows' activities alike). It is one primary-key read and no
cache, so a save in one process is seen by every other at once. The bot reads the stored rules
in its per-update tenancy query instead (`bot.middlewares.tenant`), equally uncached, and turns
them into rules with `effective_rules`, as this does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from intel.people import insight_of
from intel.vip import VipRules
from store.db import rowcount, upsert_insert
from store.models import Guest, OrgVipRules, utcnow
from store.profiles import profiles_for, tags_for

EXAMPLES = 5  # people named on each side of a preview


_SAVED = select(OrgVipRules.rules).where(OrgVipRules.org_id == bindparam("org_id"))


def effective_rules(defaults: VipRules, saved: Mapping[str, Any] | None) -> VipRules:
    """An org's saved rules (`OrgVipRules.rules`, None when it has none) over `defaults`."""
    return defaults.with_stored(saved) if saved else defaults


async def vip_rules_for(session: AsyncSession, *, org_id: int, defaults: VipRules) -> VipRules:
    """The org's effective rules: its saved ones over `defaults` (the settings'), or those."""
    return effective_rules(defaults, await session.scalar(_SAVED, {"org_id": org_id}))


async def save_rules(
    session: AsyncSession, *, org_id: int, rules: VipRules, user_id: int | None
) -> None:
    """Store every editable field (one row per org, replaced)."""
    stored = rules.stored()
    insert = upsert_insert(session.get_bind().dialect.name, OrgVipRules).values(
        org_id=org_id, rules=stored, updated_by=user_id, updated_at=utcnow()
    )
    await session.execute(
        insert.on_conflict_do_update(
            index_elements=["org_id"],
            set_={"rules": stored, "updated_by": user_id, "updated_at": utcnow()},
        )
    )


async def clear_rules(session: AsyncSession, *, org_id: int) -> bool:
    """Back to the defaults; False when the org had none of its own."""
    result = await session.execute(delete(OrgVipRules).where(OrgVipRules.org_id == org_id))
    return bool(rowcount(result))


@dataclass(frozen=True)
class PreviewPerson:
    email: str
    name: str
    score_before: int
    score_after: int


@dataclass(frozen=True)
class VipPreview:
    """Who the proposed rules make a VIP and who they stop being one, among the people on the
    org's guest lists; `becoming` and `leaving` hold a few examples, highest score first."""

    people: int
    vips_before: int
    vips_after: int
    becoming_count: int
    leaving_count: int
    becoming: list[PreviewPerson] = field(default_factory=list)
    leaving: list[PreviewPerson] = field(default_factory=list)


async def preview(
    session: AsyncSession, *, org_id: int, current: VipRules, proposed: VipRules
) -> VipPreview:
    """Score every person on the org's live guest lists with both rule sets; nothing is
    written. Profiles and tags are read once and scored twice."""
    keys = set(
        await session.scalars(
            select(Guest.normalized_email)
            .where(Guest.org_id == org_id, Guest.gone_at.is_(None))
            .distinct()
        )
    )
    profiles = await profiles_for(session, org_id=org_id, emails=keys)
    tags = await tags_for(session, org_id=org_id, emails=keys)
    before_count = after_count = 0
    becoming: list[PreviewPerson] = []
    leaving: list[PreviewPerson] = []
    for key in sorted(keys):
        profile, person_tags = profiles.get(key), tags.get(key, [])
        before = insight_of(key, profile, person_tags, [], current).vip
        after = insight_of(key, profile, person_tags, [], proposed).vip
        before_count += before.is_vip
        after_count += after.is_vip
        if before.is_vip != after.is_vip:
            person = PreviewPerson(key, profile.name if profile else "", before.score, after.score)
            (becoming if after.is_vip else leaving).append(person)
    return VipPreview(
        people=len(keys),
        vips_before=before_count,
        vips_after=after_count,
        becoming_count=len(becoming),
        leaving_count=len(leaving),
        becoming=sorted(becoming, key=lambda p: (-p.score_after, p.email))[:EXAMPLES],
        leaving=sorted(leaving, key=lambda p: (-p.score_before, p.email))[:EXAMPLES],
    )
