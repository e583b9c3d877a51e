"""Invite lists through the control API: preview, or add / invite them in a durable job."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, status
from pydantic import BaseModel, Field, model_validator

from api.deps import AutomationsDep, CurrentCaller, DepsDep, OrgEvent, SessionDep
from api.errors import ApiError
from catalog.invite_list import TooManyEntries, parse_text
from services import invites

MAX_JSON_EMAILS = 500  # 500 x 320 characters stays within the 256 KiB body limit
router = APIRouter(prefix="/v1/events/{event_id}/invites", tags=["invite lists"])


class InviteRequest(BaseModel):
    # Within the API's 256 KiB body limit, so a longer text is a 422, not a 413.
    text: str | None = Field(
        None, max_length=200_000, description="pasted addresses: lines, commas or semicolons"
    )
    emails: list[Annotated[str, Field(max_length=320)]] | None = Field(
        None, max_length=MAX_JSON_EMAILS, description="up to 500; longer lists go as `text`"
    )
    how: Literal["add", "invite"] = Field("add", description="add as going, or send invitations")
    dry_run: bool = Field(False, description="only the preview; nothing is stored or sent")

    @model_validator(mode="after")
    def _one_list(self) -> InviteRequest:
        if (self.text is None) == (self.emails is None):
            raise ValueError("give the list as `text` or as `emails`, one of the two")
        return self


class InvitePreviewPublic(BaseModel):
    new: int
    already: int
    invalid: int
    duplicates: int
    invalid_sample: list[dict[str, str]] = Field(description="entries that are not addresses")
    workflow_id: str | None = Field(None, description="the started job (not on a dry run)")


@router.post("", status_code=status.HTTP_200_OK, summary="Preview or send an invite list")
async def post_invites(
    caller: CurrentCaller,
    event: OrgEvent,
    session: SessionDep,
    deps: DepsDep,
    automations: AutomationsDep,
    body: InviteRequest,
) -> InvitePreviewPublic:
    """Every address is accounted for: new, already on the list, invalid, or a duplicate;
    the job's report (and its workflow result) adds added / refused by Luma."""
    try:
        listed = parse_text(body.text if body.text is not None else "\n".join(body.emails or []))
    except TooManyEntries as exc:
        raise ApiError(413, str(exc)) from None
    seen = await invites.preview(caller, session, event=event, invitees=listed)
    public = InvitePreviewPublic(
        new=len(seen.new),
        already=len(seen.already),
        invalid=len(seen.invalid),
        duplicates=seen.duplicates,
        invalid_sample=[{"entry": r.raw, "reason": r.reason} for r in seen.invalid[:20]],
    )
    if body.dry_run:
        return public
    async with deps.sessions.begin() as tx:
        job = await invites.stage(caller, tx, event=event, invitees=listed, how=body.how)
    handle = await invites.launch(automations, job, deps.sessions)
    public.workflow_id = handle.id
    return public
