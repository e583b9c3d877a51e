"""Luma's contact tags: tags a calendar puts on its contacts (`/v1/calendars/contact-tags/...`).

The spec's list answers `{entries: [{id, name, color}], has_more}` with no paging parameters;
create takes `{name, color?}` and answers `{id}`; apply takes `{tag, emails?, user_ids?}` (the
tag by id or by name) and answers `{applied_count, skipped_count}`. Apply puts the tag on
existing contacts only ("This will not create new contacts"): an email that is not one of the
calendar's contacts is skipped, counted as skipped and recorded in
`SimulatorState.skipped_taggings`. What the spec leaves open is decided here: a second tag of
the same name (case ignored) is refused (400), as a client that looks before it creates never
sends one; a tag that is not the calendar's is 404.
"""

from __future__ import annotations

import secrets
from typing import Any

from standins.luma.model import ApiError, Calendar, ContactTag, SkippedTagging
from standins.luma.state import SimulatorState

Json = dict[str, Any]
COLORS = ("cranberry", "barney", "red", "green", "blue", "purple", "yellow", "orange")
DEFAULT_COLOR = COLORS[0]


def tags_of(state: SimulatorState, calendar: Calendar) -> list[ContactTag]:
    return [tag for tag in state.contact_tags.values() if tag.calendar_id == calendar.id]


def tag_json(tag: ContactTag) -> Json:
    return {"id": tag.id, "name": tag.name, "color": tag.color}


def list_tags(state: SimulatorState, calendar: Calendar) -> Json:
    return {"entries": [tag_json(tag) for tag in tags_of(state, calendar)], "has_more": False}


def create_tag(state: SimulatorState, calendar: Calendar, body: Json) -> Json:
    name = body["name"].strip()  # a string: checked against the spec already
    if not name:
        raise ApiError(400, "name cannot be empty")
    if any(tag.name.casefold() == name.casefold() for tag in tags_of(state, calendar)):
        raise ApiError(400, f"a contact tag named {name!r} already exists")
    tag = ContactTag(
        id=f"tag-{secrets.token_hex(8)}",
        calendar_id=calendar.id,
        name=name,
        color=body.get("color") or DEFAULT_COLOR,
    )
    state.contact_tags[tag.id] = tag
    return {"id": tag.id}


def apply_tag(state: SimulatorState, calendar: Calendar, body: Json) -> Json:
    tag = _tag_for(state, calendar, body["tag"])
    by_user = {person.id: person.email for person in calendar.people}
    applied = skipped = 0
    for email in body.get("emails") or []:
        person = calendar.people_by_email.get(email.strip().lower())
        if person is None:
            skipped += 1
            state.skipped_taggings.append(SkippedTagging(calendar.id, tag.id, email))
            continue
        tag.emails.add(person.email)
        applied += 1
    for user_id in body.get("user_ids") or []:
        if user_id not in by_user:
            skipped += 1
            state.skipped_taggings.append(SkippedTagging(calendar.id, tag.id, user_id))
            continue
        tag.emails.add(by_user[user_id])
        applied += 1
    return {"applied_count": applied, "skipped_count": skipped}


def _tag_for(state: SimulatorState, calendar: Calendar, ref: str) -> ContactTag:
    """The calendar's tag named by id ("tag-…") or by name."""
    tag = state.contact_tags.get(ref)
    if tag is not None and tag.calendar_id == calendar.id:
        return tag
    for tag in tags_of(state, calendar):
        if tag.name.casefold() == ref.strip().casefold():
            return tag
    raise ApiError(404, f"no contact tag {ref!r} on this calendar")
