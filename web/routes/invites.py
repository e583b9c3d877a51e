"""Invite lists in the portal: paste addresses or upload a CSV, see the preview, start the job.

The same use cases as the bot's `/invite` and the API's `POST /v1/events/{id}/invites`
(`services.invites`): the list is read by `catalog.invite_list`, previewed against the cached
guest list, then staged and handed to the durable job, which checks Luma fresh and accounts
for every address. The preview page carries the list as it was given (the text, or the file's
bytes in base64) to the Start button, which reads it again, so what starts is what was shown
and nothing waits on the server between the two pages.
"""

from __future__ import annotations

import base64
import binascii
from collections import Counter
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from catalog.invite_list import InviteList, TooManyEntries, parse_csv, parse_text
from services import invites
from store.models import Event, InviteItem
from web.auth import Viewer
from web.caller import caller_of
from web.deps import Admin, Api, Reader
from web.errors import WebError, not_found
from web.render import page, see_other
from web.routes.guests import EventId, org_event
from workflows import ids

router = APIRouter(prefix="/events/{event_id}/invites")
# Every request to the app is at most 256 KiB (`ApiLimits.max_body_bytes`), and the Start
# form carries the file again in base64 (4/3 its size), so a file stays well below.
MAX_FILE_BYTES = 150_000
MAX_TEXT = 150_000
SHOWN = 20
JobId = Annotated[str, Path(pattern=r"^[0-9a-f]{16}$")]
IN_FLIGHT = ("pending", "sending", "sent")  # not yet accounted for by the reconciliation
TOO_BIG = (
    f"That file is too big for the portal ({MAX_FILE_BYTES // 1000} KB at most). Split it, or "
    "send it to the bot as a file captioned /invite and the event's name (up to 2 MB)."
)


def _parsed(text: str, csv_data: bytes | None) -> InviteList:
    try:
        return parse_csv(csv_data) if csv_data is not None else parse_text(text)
    except TooManyEntries as exc:
        raise WebError(413, "Too many addresses", f"{str(exc).capitalize()}.") from None


async def _upload(file: UploadFile | None) -> bytes | None:
    """The uploaded file's bytes; None when no file was chosen (browsers send an empty part)."""
    if file is None or not file.filename:
        return None
    data = await file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise WebError(413, "File too big", TOO_BIG)
    return data or None


def _how(raw: str) -> str:
    if raw not in invites.HOWS:
        raise WebError(
            400, "Add or invite?", "Choose Add as going or Send invitations, then try again."
        )
    return raw


@router.get("")
async def invites_page(request: Request, viewer: Reader, deps: Api, event_id: EventId) -> object:
    async with deps.sessions() as session:
        event = await org_event(session, viewer.org_id, event_id)
        return await _invites_page(request, session, viewer, event, seen=None)


@router.post("/preview")
async def preview_invites(
    request: Request,
    viewer: Admin,
    deps: Api,
    event_id: EventId,
    text: Annotated[str, Form(max_length=MAX_TEXT)] = "",
    file: Annotated[UploadFile | None, File()] = None,
    how: Annotated[str, Form(max_length=8)] = "add",
) -> object:
    """How many are new, already on the guest list, not valid and repeated; nothing stored."""
    chosen = _how(how)
    csv_data = await _upload(file)
    if csv_data is not None and text.strip():
        raise WebError(
            400, "One list at a time", "Paste addresses or upload a CSV file, not both at once."
        )
    if csv_data is None and not text.strip():
        raise WebError(
            400, "No addresses", "Paste some addresses or choose a CSV file, then try again."
        )
    listed = _parsed(text, csv_data)
    async with deps.sessions() as session:
        event = await org_event(session, viewer.org_id, event_id)
        seen = await invites.preview(caller_of(viewer), session, event=event, invitees=listed)
        return await _invites_page(
            request,
            session,
            viewer,
            event,
            seen=seen,
            how=chosen,
            text="" if csv_data is not None else text,
            csv_b64=base64.b64encode(csv_data).decode() if csv_data is not None else "",
            shown=SHOWN,
        )


async def _invites_page(
    request: Request, session: AsyncSession, viewer: Viewer, event: Event, **shown: Any
) -> object:
    """The invite page: the form, and the preview when there is one."""
    return await page(
        request,
        session,
        viewer,
        "invites.html",
        event=event,
        max_text=MAX_TEXT,
        max_kb=MAX_FILE_BYTES // 1000,
        nav="events",
        **shown,
    )


@router.post("/start")
async def start_invites(
    viewer: Admin,
    deps: Api,
    event_id: EventId,
    text: Annotated[str, Form(max_length=MAX_TEXT)] = "",
    csv_b64: Annotated[str, Form(max_length=MAX_FILE_BYTES * 2)] = "",
    how: Annotated[str, Form(max_length=8)] = "add",
) -> object:
    """Stage the list as previewed (read again from what the preview carried), commit, and
    start the job; its own page follows it."""
    chosen = _how(how)
    csv_data: bytes | None = None
    if csv_b64:
        try:
            csv_data = base64.b64decode(csv_b64, validate=True)
        except (binascii.Error, ValueError):
            raise WebError(400, "Form damaged", "Upload the file again, then try again.") from None
    listed = _parsed(text, csv_data)
    async with deps.sessions.begin() as session:  # committed before the job reads its rows
        event = await org_event(session, viewer.org_id, event_id)
        job = await invites.stage(
            caller_of(viewer), session, event=event, invitees=listed, how=chosen
        )
    await invites.launch(deps.automations, job, deps.sessions)
    return see_other(f"/web/events/{event_id}/invites/{job.job_id}")


@router.get("/{job_id}")
async def invite_job_page(
    request: Request, viewer: Reader, deps: Api, event_id: EventId, job_id: JobId
) -> object:
    """What became of every address so far; complete once the reconciliation ran."""
    async with deps.sessions() as session:
        event = await org_event(session, viewer.org_id, event_id)
        rows = await session.execute(
            select(InviteItem.state, func.count())
            .where(
                InviteItem.org_id == viewer.org_id,
                InviteItem.luma_event_id == event_id,
                InviteItem.job_id == job_id,
            )
            .group_by(InviteItem.state)
        )
        counts = Counter({state: count for state, count in rows})
        if not counts:
            raise not_found("invite list")
        refused = list(
            await session.execute(
                select(InviteItem.email, InviteItem.detail)
                .where(
                    InviteItem.org_id == viewer.org_id,
                    InviteItem.luma_event_id == event.luma_event_id,
                    InviteItem.job_id == job_id,
                    InviteItem.state.in_(("refused", "invalid")),
                )
                .order_by(InviteItem.id)
                .limit(SHOWN)
            )
        )
        return await page(
            request,
            session,
            viewer,
            "invite_job.html",
            event=event,
            counts=counts,
            total=sum(counts.values()),
            done=not any(counts[state] for state in IN_FLIGHT),
            problems=refused,
            job_url=f"/web/jobs/{ids.invite_id(viewer.org_id, event_id, job_id)}",
            nav="events",
        )
