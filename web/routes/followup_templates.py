"""Follow-up templates in the portal: list, create, edit, delete, the default per audience, and a
preview filled in for a real guest of a chosen event.

Every write is a `services.followup_templates` use case (admins only, the template checked,
the audit row), as for the bot's `/followup`. A template that cannot be saved, or a preview
that cannot be filled in for the chosen event, shows this page again with the reason and the
text as typed; nothing is saved. The portal does not start follow-ups (the bot's `/followup`
does, with the template chosen there), so this page is where templates are kept.
"""

from __future__ import annotations

import html
import re
from typing import Annotated, Literal

from fastapi import APIRouter, Form, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from mailer.drafts import AUDIENCE_LABELS, Draft
from services import followup_templates
from services.caller import Refusal
from services.followup_templates import MAX_BODY, MAX_NAME, MAX_SUBJECT
from store import cache
from store.models import Event
from web.auth import Viewer
from web.caller import caller_of
from web.deps import Admin, Api, Reader
from web.errors import not_found
from web.render import page, see_other

router = APIRouter(prefix="/followup-templates")
URL = "/web/followup-templates"
EVENTS_SHOWN = 100
EventChoice = Annotated[str, Query(pattern=r"^[A-Za-z0-9_.:-]{0,64}$")]
Id = Annotated[str, Form(max_length=12)]


def _id(raw: str) -> int | None:
    return int(raw) if re.fullmatch(r"[0-9]{1,12}", raw) else None


async def _events(session: AsyncSession, viewer: Viewer) -> list[Event]:
    """The calendar's events for the preview's choice, the latest first."""
    events = await cache.list_events(session, org_id=viewer.org_id)
    return sorted(events, key=lambda e: e.start_at or e.fetched_at, reverse=True)[:EVENTS_SHOWN]


async def _page(
    request: Request,
    session: AsyncSession,
    viewer: Viewer,
    *,
    form: dict[str, str] | None = None,
    editing: int | None = None,
    event_id: str = "",
    guest: str = "",
    error: str = "",
    status: int = 200,
) -> object:
    """The list, the form (a template being edited, or a new one) and, with an event chosen,
    the form's text filled in for a real guest of it."""
    caller = caller_of(viewer)
    saved = await followup_templates.list_templates(caller, session)
    events = await _events(session, viewer)
    if form is None:
        row = next((t for t in saved if t.id == editing), None)
        form = (
            {"name": row.name, "subject": row.subject, "body": row.body}
            if row
            else {"name": "", "subject": "", "body": ""}
        )
        editing = row.id if row else None
    preview = None
    if event_id and not error:
        event = next((e for e in events if e.luma_event_id == event_id), None)
        if event is None:
            raise not_found("event")
        try:
            preview = await followup_templates.preview(
                caller,
                session,
                event=event,
                draft=Draft(form["subject"], form["body"]),
                email=guest,
            )
        except Refusal as refusal:
            error, status = html.unescape(refusal.message), refusal.status
    return await page(
        request,
        session,
        viewer,
        "followup_templates.html",
        status=status,
        templates=saved,
        events=events,
        form=form,
        editing=editing,
        event_id=event_id,
        guest=guest,
        preview=preview,
        error=error,
        audiences=AUDIENCE_LABELS,
        max_name=MAX_NAME,
        max_subject=MAX_SUBJECT,
        max_body=MAX_BODY,
        nav="followup-templates",
    )


@router.get("")
async def templates_page(
    request: Request,
    viewer: Reader,
    deps: Api,
    edit: Annotated[str, Query(max_length=12)] = "",
    event: EventChoice = "",
    guest: Annotated[str, Query(max_length=320)] = "",
) -> object:
    """With `edit`, that template is in the form (and previewed when an event is chosen)."""
    async with deps.sessions() as session:
        return await _page(request, session, viewer, editing=_id(edit), event_id=event, guest=guest)


@router.post("/save")
async def save_template(
    request: Request,
    viewer: Admin,
    deps: Api,
    template_id: Id = "",
    name: Annotated[str, Form(max_length=MAX_NAME * 2)] = "",
    subject: Annotated[str, Form(max_length=MAX_SUBJECT * 2)] = "",
    body: Annotated[str, Form(max_length=MAX_BODY * 2)] = "",
    event: Annotated[str, Form(pattern=r"^[A-Za-z0-9_.:-]{0,64}$")] = "",
    guest: Annotated[str, Form(max_length=320)] = "",
    do: Annotated[Literal["save", "preview"], Form()] = "save",
) -> object:
    """Preview the text as typed (nothing saved), or save it: a new template, or the one
    being edited. A refusal shows the form again with the reason."""
    form = {"name": name, "subject": subject, "body": body}
    editing = _id(template_id)
    if do == "preview":
        async with deps.sessions() as session:
            return await _page(
                request, session, viewer, form=form, editing=editing, event_id=event, guest=guest
            )
    caller = caller_of(viewer)
    try:
        async with deps.sessions.begin() as session:
            if editing is None:
                row = await followup_templates.create(
                    caller, session, name=name, subject=subject, body=body
                )
            else:
                row = await followup_templates.edit(
                    caller, session, template_id=editing, name=name, subject=subject, body=body
                )
            saved_id = row.id
    except Refusal as refusal:
        async with deps.sessions() as session:
            return await _page(
                request,
                session,
                viewer,
                form=form,
                editing=editing,
                error=html.unescape(refusal.message),
                status=refusal.status,
            )
    return see_other(f"{URL}?edit={saved_id}&saved=1")


@router.post("/default")
async def set_default(
    viewer: Admin,
    deps: Api,
    template_id: Id = "",
    audience: Annotated[Literal["", "attended", "no-shows", "all"], Form()] = "",
) -> object:
    """Make a template the default for an audience (or for none)."""
    wanted = _id(template_id)
    if wanted is None:
        raise not_found("template")
    async with deps.sessions.begin() as session:
        await followup_templates.set_default(
            caller_of(viewer), session, template_id=wanted, audience_word=audience or None
        )
    return see_other(f"{URL}?saved=1")


@router.post("/delete")
async def delete_template(viewer: Admin, deps: Api, template_id: Id = "") -> object:
    wanted = _id(template_id)
    if wanted is None:
        raise not_found("template")
    async with deps.sessions.begin() as session:
        await followup_templates.delete(caller_of(viewer), session, template_id=wanted)
    return see_other(f"{URL}?deleted=1")
