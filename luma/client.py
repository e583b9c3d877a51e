"""The Luma API client: one connection pool per process, one light client per API key.

Every attempt at a request first takes a slot from the shared `RateBudget` (when there is
one), so retries are counted like first tries, and every answer's rate headers go back to
the budget, which follows the limit Luma announces for the key. Failures are sorted once,
here: a 429 is always recorded in the budget (so every process backs off) and raised as
`RateLimitedError` with Luma's `Retry-After`; 5xx, timeouts and dropped connections become
`LumaUnavailableError`; anything else is the caller's problem. An answer that breaks Luma's
published contract (a body the readers cannot parse, `has_more` without a `next_cursor`) is
`LumaProtocolError`, never a silently short list.

Whether the client itself retries is chosen per client (`max_retries`): a person waiting on
the bot or the portal gets a few quick retries that hide a blip, while Temporal activities
get single-attempt clients (see `activities.luma_access.LumaAccess`), because Temporal's retry
policy already retries them and a retry loop inside an activity attempt would multiply the
attempts and sleep through the activity's timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import random
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from types import TracebackType
from typing import Any, TypeVar

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport
from pydantic import BaseModel, ValidationError

from core.defaults import LUMA_TIMEOUT_SECONDS
from core.logs import redact, secrets
from core.metrics import luma_answered
from luma.announced import read_announcement
from luma.emails import normalize_email
from luma.errors import (
    BadRequestError,
    InvalidKeyError,
    LumaError,
    LumaProtocolError,
    LumaUnavailableError,
    NotFoundError,
    RateLimitedError,
)
from luma.models import (
    SINGLE_EVENT,
    LumaCalendar,
    LumaContactTag,
    LumaContactTags,
    LumaCreated,
    LumaEvent,
    LumaGuest,
    LumaPerson,
    LumaTagApplied,
    LumaUser,
    LumaWebhook,
    Page,
)
from luma.paths import CALENDAR_ROUTES, CURRENT, GUEST_ROUTES, LEGACY, ApiPaths, Endpoint
from luma.ratelimit import ORGANIZATION_KEY, RateBudget, budget_key

log = logging.getLogger(__name__)

KEY_HEADER = "x-luma-api-key"
PAGE_LIMIT = 100
MAX_MESSAGE = 200
DEFAULT_RETRY_AFTER = 60.0
MAX_RESET_WAIT = 60.0  # Luma's window is a minute: a later announced reset is not believed
MAX_BACKOFF = 30.0
# Retries for callers a person waits on (the bot's key check and lookups, the portal): enough
# to hide a dropped connection, few enough that an outage is reported while they still wait.
INTERACTIVE_RETRIES = 3
# Emails per apply-contact-tag request. The spec sets no maximum; a page's worth keeps each
# request (and what one failure leaves undone) as small as our other requests.
CONTACT_TAG_BATCH = 100

M = TypeVar("M", bound=BaseModel)


class LumaPool:
    """Owns the process's single HTTP connection pool and hands out per-key clients.

    `max_retries` is the retry count of the clients it hands out unless `client()` is told
    otherwise; the default suits interactive callers (`INTERACTIVE_RETRIES`).
    """

    def __init__(
        self,
        base_url: str,
        *,
        legacy_paths: bool = False,
        budget: RateBudget | None = None,
        timeout: float = LUMA_TIMEOUT_SECONDS,
        max_retries: int = INTERACTIVE_RETRIES,
        backoff_base: float = 0.5,
        max_connections: int = 50,
    ) -> None:
        self.paths: ApiPaths = LEGACY if legacy_paths else CURRENT
        self.budget = budget
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(timeout, connect=min(timeout, 5.0)),
            headers={"accept": "application/json"},
            # aiohttp under httpx's API: httpcore's pool spends time quadratic in the calls
            # waiting for a connection (encode/httpcore#1035), a third of a bulk job's CPU.
            transport=AiohttpTransport(client=lambda: _aiohttp_session(max_connections)),
        )

    def client(
        self,
        api_key: str,
        *,
        budget_key: str,
        interactive: bool = False,
        max_retries: int | None = None,
        calendar_id: str | None = None,
    ) -> LumaClient:
        """A client for one key; `budget_key` names the calendar whose budget it spends.

        `interactive` marks calls a person is waiting for (the bot's lookups): they may use
        the share of the budget that bulk work leaves free. `max_retries` overrides the
        pool's retry count (0: one attempt, the caller retries, as Temporal does).
        `calendar_id` confines an organization key's client to one of its calendars.
        """
        retries = self.max_retries if max_retries is None else max_retries
        return LumaClient(
            self,
            api_key,
            budget_key=budget_key,
            interactive=interactive,
            max_retries=retries,
            calendar_id=calendar_id,
        )

    def tenant_client(
        self,
        api_key: str,
        *,
        calendar_id: str,
        key_kind: str,
        interactive: bool = False,
        max_retries: int | None = None,
    ) -> LumaClient:
        """A client for one tenant (one calendar), spending the budget Luma counts its key
        in (`luma.ratelimit.budget_key`). Through an organization key it is confined to
        `calendar_id`: its events and their guests, never another calendar's of the same
        organization."""
        return self.client(
            api_key,
            budget_key=budget_key(calendar_id, api_key, key_kind),
            interactive=interactive,
            max_retries=max_retries,
            calendar_id=calendar_id if key_kind == ORGANIZATION_KEY else None,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> LumaPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _send(
        self,
        method: str,
        path: str,
        api_key: str,
        params: dict[str, Any],
        body: Any,
        sent: asyncio.Event | None,
    ) -> httpx.Response:
        _SENT.set(sent)  # this call's own task: seen by `_mark_sent` for this request only
        try:
            return await self._http.request(
                method, path, params=params or None, json=body, headers={KEY_HEADER: api_key}
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            # What the transport does not map (a garbled status line, say) is still "Luma did
            # not answer", as it was with httpcore.
            raise httpx.TransportError(f"{type(exc).__name__}: {exc}") from exc


class LumaClient:
    """Typed calls to Luma with one API key; cheap to create, shares the pool's connections."""

    def __init__(
        self,
        pool: LumaPool,
        api_key: str,
        *,
        budget_key: str,
        interactive: bool,
        max_retries: int = INTERACTIVE_RETRIES,
        calendar_id: str | None = None,
    ) -> None:
        if max_retries < 0:
            raise ValueError("max_retries cannot be negative")
        if not api_key:
            raise InvalidKeyError("empty API key")
        secrets.add(api_key)
        self._pool = pool
        self._key = api_key
        self._paths = pool.paths
        self.budget_key = budget_key
        self.interactive = interactive
        self.max_retries = max_retries
        # Set on an organization key's client for one of its calendars (`tenant_client`):
        # what it lists, reads and changes is confined to that calendar's events.
        self.calendar_id = calendar_id
        self._own_events: set[str] = set()  # events seen to be `calendar_id`'s

    def __repr__(self) -> str:
        return (
            f"LumaClient(key='…{self._key[-4:]}', budget_key={self.budget_key!r}, "
            f"paths={self._paths.name!r}, calendar_id={self.calendar_id!r})"
        )

    # -- reads -------------------------------------------------------------------------

    async def get_self(self) -> LumaUser:
        """The key's owner; the cheapest way to check that a key works."""
        return read_user(await self._call(Endpoint.GET_SELF))

    async def get_calendar(self) -> LumaCalendar:
        """The calendar the key belongs to (current API only): a tenant is a calendar, since
        one Luma user may own several calendars, each with its own key. Through an
        organization key, the client's calendar as the organization lists it (`NotFoundError`
        once the key no longer opens it)."""
        if self.calendar_id is None:
            return read_calendar(await self._call(Endpoint.GET_CALENDAR))
        for calendar in await self.list_org_calendars():
            if calendar.id == self.calendar_id:
                return calendar
        raise NotFoundError(f"the organization key no longer opens calendar {self.calendar_id}")

    async def list_org_calendars(self) -> list[LumaCalendar]:
        """Every calendar an organization key opens, page after page (organization keys
        only; Luma refuses a calendar key here)."""
        return [
            calendar
            async for calendar in self._entries(Endpoint.LIST_ORG_CALENDARS, read_calendar_page, {})
        ]

    async def list_events_page(
        self,
        after: datetime | None = None,
        before: datetime | None = None,
        cursor: str | None = None,
        limit: int = PAGE_LIMIT,
    ) -> Page[LumaEvent]:
        """One page of the calendar's events. Through an organization key it is a page of the
        organization's events with the other calendars' taken out, so it may hold fewer than
        `limit` (even none) while `has_more` still says to go on."""
        filters = {"after": _iso(after), "before": _iso(before)}
        if self.calendar_id is None:
            return await self._page(Endpoint.LIST_EVENTS, read_event_page, filters, cursor, limit)
        page = await self._page(
            Endpoint.LIST_ORG_EVENTS, read_org_event_page, filters, cursor, limit
        )
        return page.model_copy(update={"entries": [e for e in page.entries if self._mine(e)]})

    def iter_events(
        self, after: datetime | None = None, before: datetime | None = None
    ) -> AsyncGenerator[LumaEvent, None]:
        """Every event of the calendar in the range, page after page (see `_entries`);
        through an organization key, the organization's events of this calendar only."""
        if self.calendar_id is None:
            filters = {"after": _iso(after), "before": _iso(before)}
            return self._entries(Endpoint.LIST_EVENTS, read_event_page, filters)
        return self._only_mine(self.iter_org_events(after, before))

    def iter_org_events(
        self, after: datetime | None = None, before: datetime | None = None
    ) -> AsyncGenerator[LumaEvent, None]:
        """Every event of every calendar of an organization key, page after page."""
        filters = {"after": _iso(after), "before": _iso(before)}
        return self._entries(Endpoint.LIST_ORG_EVENTS, read_org_event_page, filters)

    async def get_event(self, event_id: str) -> LumaEvent:
        """One event; through an organization key, only one of the client's calendar (an
        event of the organization's other calendars is `NotFoundError`, as it would be to
        that calendar's own key)."""
        params = {self._paths.get_event_param: event_id}
        event = read_event(await self._call(Endpoint.GET_EVENT, params))
        if self.calendar_id is not None and not self._mine(event):
            raise NotFoundError(f"event {event_id} is not calendar {self.calendar_id}'s")
        return event

    def _mine(self, event: LumaEvent) -> bool:
        """Whether an event is the client's calendar's, remembering it if so (so its guests
        are reached without asking for the event again). The organization's list gives each
        event once, under the calendar that manages it (`calendar_id`): that calendar's tenant
        is the one that has it, so no event is two tenants' at once."""
        if self.calendar_id is None or event.calendar_id != self.calendar_id:
            return False
        self._own_events.add(event.id)
        return True

    async def _only_mine(
        self, events: AsyncGenerator[LumaEvent, None]
    ) -> AsyncGenerator[LumaEvent, None]:
        async with contextlib.aclosing(events):
            async for event in events:
                if self._mine(event):
                    yield event

    async def _confine(self, endpoint: Endpoint, where: Mapping[str, Any]) -> None:
        """Refuse, before anything is sent, what an organization key's client for one
        calendar must not do: a calendar's own routes (they cannot name the calendar) and
        guests of an event that is not its calendar's (one `get_event` per event, once)."""
        if self.calendar_id is None:
            return
        if endpoint in CALENDAR_ROUTES:
            raise BadRequestError(f"{endpoint} needs a calendar key, not an organization key")
        if endpoint in GUEST_ROUTES:
            event_id = where.get(self._paths.event_param)
            if not isinstance(event_id, str) or not event_id:
                raise BadRequestError(f"{endpoint} names no event")
            if event_id not in self._own_events:
                await self.get_event(event_id)

    async def list_guests_page(
        self,
        event_id: str,
        *,
        status: str | None = None,
        sort_column: str | None = None,
        sort_direction: str | None = None,
        cursor: str | None = None,
        limit: int = PAGE_LIMIT,
    ) -> Page[LumaGuest]:
        """One page of guests; workflows keep `next_cursor` to resume after continue-as-new."""
        filters = self._guest_filters(event_id, status, sort_column, sort_direction)
        return await self._page(Endpoint.LIST_GUESTS, read_guest_page, filters, cursor, limit)

    def iter_guests(
        self,
        event_id: str,
        *,
        status: str | None = None,
        sort_column: str | None = None,
        sort_direction: str | None = None,
    ) -> AsyncGenerator[LumaGuest, None]:
        """Every guest, page after page; wrap in `contextlib.aclosing` to stop early."""
        filters = self._guest_filters(event_id, status, sort_column, sort_direction)
        return self._entries(Endpoint.LIST_GUESTS, read_guest_page, filters)

    async def get_guest(
        self, event_id: str, *, email: str | None = None, guest_id: str | None = None
    ) -> LumaGuest:
        """One guest, by guest id when given, else by email."""
        email, guest_id = _guest_ref(email, guest_id)
        lookup = (
            {self._paths.guest_email_param: email}
            if email is not None
            else {self._paths.guest_id_param: guest_id}
        )
        params = {self._paths.event_param: event_id, **lookup}
        return read_guest(await self._call(Endpoint.GET_GUEST, params))

    async def list_people_page(
        self, cursor: str | None = None, limit: int = PAGE_LIMIT
    ) -> Page[LumaPerson]:
        return await self._page(Endpoint.LIST_PEOPLE, read_people_page, {}, cursor, limit)

    def iter_people(self) -> AsyncGenerator[LumaPerson, None]:
        return self._entries(Endpoint.LIST_PEOPLE, read_people_page, {})

    def _guest_filters(
        self,
        event_id: str,
        status: str | None,
        sort_column: str | None,
        sort_direction: str | None,
    ) -> dict[str, Any]:
        return {
            self._paths.event_param: event_id,
            "approval_status": status,
            "sort_column": sort_column,
            "sort_direction": sort_direction,
        }

    async def _page(
        self,
        endpoint: Endpoint,
        read: Callable[[Any], Page[M]],
        filters: dict[str, Any],
        cursor: str | None,
        limit: int,
    ) -> Page[M]:
        data = await self._call(endpoint, {**filters, **_paging(cursor, limit)})
        next_cursor(endpoint, data)  # a cut-off list must never pass for a whole one
        return read(data)

    async def _entries(
        self, endpoint: Endpoint, read: Callable[[Any], Page[M]], filters: dict[str, Any]
    ) -> AsyncGenerator[M, None]:
        """Every entry of every page, following `next_cursor` until `has_more` is false.

        Pipelined, so that a listing costs one round trip a page and nothing more: while a
        page is in flight the next page's budget slot is taken, and once a page's cursor is
        known the next request goes out before this page is parsed and consumed. The price
        is one unused budget slot when the listing ends.
        """
        budget = self._pool.budget
        pending: asyncio.Future[Any] | None = asyncio.ensure_future(
            self._call(endpoint, {**filters, **_paging(None, PAGE_LIMIT)})
        )
        ahead: asyncio.Future[None] | None = None
        try:
            while pending is not None:
                if budget is not None:
                    ahead = asyncio.ensure_future(
                        budget.acquire(self.budget_key, interactive=self.interactive)
                    )
                data = await pending
                pending = None
                if cursor := next_cursor(endpoint, data):
                    admitted, ahead = ahead, None
                    sent = asyncio.Event()
                    params = {**filters, **_paging(cursor, PAGE_LIMIT)}
                    pending = asyncio.ensure_future(
                        self._call(endpoint, params, admitted=admitted, sent=sent)
                    )
                    if admitted is None or admitted.done():  # never hold a page for the budget
                        await _sent_or_done(sent, pending)
                for entry in read(data).entries:
                    yield entry
        finally:
            for task in (pending, ahead):
                if task is not None:
                    _abandon(task)

    # -- writes ------------------------------------------------------------------------

    async def update_guest_status(
        self,
        event_id: str,
        *,
        email: str | None = None,
        guest_id: str | None = None,
        status: str,
        should_refund: bool | None = None,
        send_email: bool | None = None,
        message: str | None = None,
    ) -> None:
        """Approve, decline (or, on the current API, wait-list / un-approve) one guest.

        Safe to retry: setting a status a guest already has changes nothing. Whether to
        refund a paid guest is left to the caller: Luma refuses to guess.
        """
        email, guest_id = _guest_ref(email, guest_id)
        self._check_status_options(status, send_email, message)
        body: dict[str, Any] = {
            self._paths.event_param: event_id,
            **self._paths.guest_ref(email, guest_id),
            "status": status,
            "should_refund": should_refund,
        }
        if self._paths.status_notifications:
            body |= {"send_email": send_email, "message": message}
        await self._call(Endpoint.UPDATE_GUEST_STATUS, body=_drop_none(body))

    async def add_guests(self, event_id: str, guests: Iterable[tuple[str, str | None]]) -> None:
        """Add (email, name) pairs as approved guests; emails are checked before sending.

        Safe to retry: Luma leaves people already on the list as they are.
        """
        entries = [_drop_none({"email": normalize_email(e), "name": n}) for e, n in guests]
        body = {self._paths.event_param: event_id, "guests": entries}
        await self._call(Endpoint.ADD_GUESTS, body=body)

    async def send_invites(self, event_id: str, emails: Iterable[str]) -> None:
        """Invite people by email (Luma sends the invitations); safe to retry, like adding."""
        entries = [{"email": normalize_email(email)} for email in emails]
        body = {self._paths.event_param: event_id, "guests": entries}
        await self._call(Endpoint.SEND_INVITES, body=body)

    def _check_status_options(
        self, status: str, send_email: bool | None, message: str | None
    ) -> None:
        allowed = self._paths.settable_statuses
        if status not in allowed:
            raise BadRequestError(f"status must be one of {', '.join(sorted(allowed))}")
        if message is None:
            return
        if not self._paths.status_notifications:
            raise BadRequestError("a message to the guest needs the current Luma API")
        if len(message) > MAX_MESSAGE:
            raise BadRequestError(f"the message is longer than {MAX_MESSAGE} characters")
        if send_email is False:
            raise BadRequestError("a message cannot be sent with send_email turned off")

    # -- transport ---------------------------------------------------------------------

    async def _call(
        self,
        endpoint: Endpoint,
        params: dict[str, Any] | None = None,
        body: Any = None,
        *,
        admitted: Awaitable[None] | None = None,
        sent: asyncio.Event | None = None,
    ) -> Any:
        """Send one request with budget and up to `max_retries` retries; return the decoded
        JSON body.

        `admitted` is a budget slot already being taken for the first attempt; `sent` is set
        once a request is fully written.
        """
        method, path = self._paths.method(endpoint), self._paths.routes.get(endpoint)
        if path is None:
            raise BadRequestError(f"{endpoint} needs the current Luma API")
        await self._confine(endpoint, params or body or {})
        query = _drop_none(params or {})
        pool, attempt = self._pool, 0
        while True:
            if admitted is not None:
                await admitted
                admitted = None
            elif pool.budget is not None:
                await pool.budget.acquire(self.budget_key, interactive=self.interactive)
            try:
                response = await pool._send(method, path, self._key, query, body, sent)
            except httpx.TransportError as exc:
                luma_answered(endpoint, "error")  # core.metrics: no answer
                failure: LumaError = LumaUnavailableError(
                    f"{method} {path}: {type(exc).__name__} {exc}".strip()
                )
                delay = self._backoff(attempt)
            else:
                luma_answered(endpoint, response.status_code)  # core.metrics
                if pool.budget is not None:
                    await self._heed(pool.budget, response)
                if response.is_success:
                    return _json(response, method, path)
                failure = _error_for(response, method, path)
                if isinstance(failure, RateLimitedError):
                    delay = failure.retry_after
                    if pool.budget is not None:
                        await pool.budget.penalize(self.budget_key, delay)
                elif isinstance(failure, LumaUnavailableError):
                    delay = self._backoff(attempt)
                else:
                    raise failure
            if attempt >= self.max_retries:
                raise failure
            log.warning(
                "Luma %s %s failed (%s), retry %d/%d in %.2f s",
                method,
                path,
                failure,
                attempt + 1,
                self.max_retries,
                delay,
            )
            await asyncio.sleep(delay)
            attempt += 1

    async def _heed(self, budget: RateBudget, response: httpx.Response) -> None:
        """Let the budget follow what Luma announced on this answer: the key's limit, and,
        when Luma says nothing is left, a hold for every process until its window resets
        (a 429's own `Retry-After` is recorded with the refusal instead)."""
        announced = read_announcement(response.headers)
        if announced is None:
            return
        if announced.limit is not None:
            budget.announce(self.budget_key, announced.limit)
        wait = announced.exhausted_for
        if wait and response.status_code != 429:
            await budget.penalize(self.budget_key, min(wait, MAX_RESET_WAIT))

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter, so retrying processes do not fire in step."""
        ceiling = min(MAX_BACKOFF, self._pool.backoff_base * 2**attempt)
        return random.uniform(ceiling / 2, ceiling)

    # -- webhooks (current API only; creating one needs Luma Plus) ------------------------

    async def create_webhook(self, url: str, event_types: Iterable[str]) -> LumaWebhook:
        """Register a webhook endpoint for the key's calendar; the answer carries its
        `secret`. Not idempotent: a retried create may leave a twin, which `list_webhooks`
        shows (the owner of the URL deletes the extras). Luma answers 403 (or 400) where the
        calendar has no Luma Plus."""
        body = {"url": url, "event_types": list(event_types)}
        return read_webhook(await self._call(Endpoint.CREATE_WEBHOOK, body=body))

    async def list_webhooks(self) -> list[LumaWebhook]:
        """Every webhook endpoint of the key's calendar, page after page."""
        return [hook async for hook in self._entries(Endpoint.LIST_WEBHOOKS, read_webhook_page, {})]

    async def delete_webhook(self, webhook_id: str) -> None:
        """Remove a webhook endpoint; a 404 (already gone) is raised as `NotFoundError`."""
        await self._call(Endpoint.DELETE_WEBHOOK, body={"id": webhook_id})

    # -- contact tags (current API only; the key's calendar's contacts) ---------------------

    async def list_contact_tags(self) -> list[LumaContactTag]:
        """The calendar's contact tags. The spec gives this list no paging parameters and
        no cursor, so an answer saying `has_more` cannot be followed: it is refused rather
        than taken for the whole list (a tag missed would be created twice)."""
        data = await self._call(Endpoint.LIST_CONTACT_TAGS)
        tags = read_contact_tags(data)
        if tags.has_more:
            raise LumaProtocolError(f"{Endpoint.LIST_CONTACT_TAGS}: has_more on an unpaged list")
        return tags.entries

    async def create_contact_tag(self, name: str, color: str | None = None) -> str:
        """A new contact tag; its id. Not idempotent: `ensure_contact_tags` looks first."""
        body = _drop_none({"name": name, "color": color})
        return read_created_tag(await self._call(Endpoint.CREATE_CONTACT_TAG, body=body)).id

    async def ensure_contact_tags(self, names: Iterable[str]) -> dict[str, str]:
        """Each name's tag id, creating the tags the calendar lacks: one listing, then one
        request per missing tag. Names match without regard to case (our tags are lower
        case; an organizer's "VIP" on Luma is our "vip")."""
        found = {tag.name.casefold(): tag.id for tag in await self.list_contact_tags()}
        ids: dict[str, str] = {}
        for name in dict.fromkeys(names):
            key = name.casefold()
            if key not in found:
                found[key] = await self.create_contact_tag(name)
            ids[name] = found[key]
        return ids

    async def apply_contact_tag(self, tag: str, emails: Iterable[str]) -> LumaTagApplied:
        """Put a tag (its id or name) on the calendar's contacts with these emails, in
        requests of `CONTACT_TAG_BATCH`. Idempotent on Luma's side; emails that are not
        contacts are skipped, never made contacts. The counts are summed over the requests."""
        unique = list(dict.fromkeys(emails))
        applied = skipped = 0
        for start in range(0, len(unique), CONTACT_TAG_BATCH):
            body = {"tag": tag, "emails": unique[start : start + CONTACT_TAG_BATCH]}
            answer = read_tag_applied(await self._call(Endpoint.APPLY_CONTACT_TAG, body=body))
            applied += answer.applied_count
            skipped += answer.skipped_count
        return LumaTagApplied(applied_count=applied, skipped_count=skipped)


# -- reading answers ----------------------------------------------------------------------


def _reader(
    model: type[M], endpoint: Endpoint, context: dict[str, Any] | None = None
) -> Callable[[Any], M]:
    """The parser of one operation's answer; a body that does not parse is Luma breaking its
    contract, reported as such instead of a validation traceback."""

    def read(data: Any) -> M:
        try:
            return model.model_validate(data, context=context)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in error['loc']) or 'body'}: {error['msg']}"
                for error in exc.errors()[:3]
            )
            raise LumaProtocolError(f"{endpoint}: unreadable answer ({problems})") from None

    return read


read_user = _reader(LumaUser, Endpoint.GET_SELF)
read_calendar = _reader(LumaCalendar, Endpoint.GET_CALENDAR)
read_event_page = _reader(Page[LumaEvent], Endpoint.LIST_EVENTS)
read_event = _reader(LumaEvent, Endpoint.GET_EVENT, SINGLE_EVENT)
read_calendar_page = _reader(Page[LumaCalendar], Endpoint.LIST_ORG_CALENDARS)
read_org_event_page = _reader(Page[LumaEvent], Endpoint.LIST_ORG_EVENTS, SINGLE_EVENT)
read_guest_page = _reader(Page[LumaGuest], Endpoint.LIST_GUESTS)
read_guest = _reader(LumaGuest, Endpoint.GET_GUEST)
read_people_page = _reader(Page[LumaPerson], Endpoint.LIST_PEOPLE)
read_webhook = _reader(LumaWebhook, Endpoint.CREATE_WEBHOOK)
read_webhook_page = _reader(Page[LumaWebhook], Endpoint.LIST_WEBHOOKS)
read_contact_tags = _reader(LumaContactTags, Endpoint.LIST_CONTACT_TAGS)
read_created_tag = _reader(LumaCreated, Endpoint.CREATE_CONTACT_TAG)
read_tag_applied = _reader(LumaTagApplied, Endpoint.APPLY_CONTACT_TAG)

# Every answer the client reads, by operation (of the writes' answers: a created webhook's, a
# created contact tag's id, and an applied tag's counts):
# the contract tests feed each one the spec's shapes and check what it looks up.
READERS: Mapping[Endpoint, Callable[[Any], BaseModel]] = {
    Endpoint.GET_SELF: read_user,
    Endpoint.GET_CALENDAR: read_calendar,
    Endpoint.LIST_EVENTS: read_event_page,
    Endpoint.GET_EVENT: read_event,
    Endpoint.LIST_GUESTS: read_guest_page,
    Endpoint.GET_GUEST: read_guest,
    Endpoint.LIST_PEOPLE: read_people_page,
    Endpoint.CREATE_WEBHOOK: read_webhook,
    Endpoint.LIST_WEBHOOKS: read_webhook_page,
    Endpoint.LIST_ORG_CALENDARS: read_calendar_page,
    Endpoint.LIST_ORG_EVENTS: read_org_event_page,
    Endpoint.LIST_CONTACT_TAGS: read_contact_tags,
    Endpoint.CREATE_CONTACT_TAG: read_created_tag,
    Endpoint.APPLY_CONTACT_TAG: read_tag_applied,
}


def next_cursor(endpoint: Endpoint, data: Any) -> str | None:
    """The cursor of the next page, None on the last one. `has_more` without a cursor is an
    error: stopping there would take a cut-off list for the whole one (and the sync would
    mark the unseen guests gone); asking again without a cursor would loop on page one."""
    if not (isinstance(data, Mapping) and data.get("has_more")):
        return None
    cursor = data.get("next_cursor")
    if isinstance(cursor, str) and cursor:
        return cursor
    raise LumaProtocolError(f"{endpoint}: has_more is true but there is no next_cursor")


def _error_for(response: httpx.Response, method: str, path: str) -> LumaError:
    """The LumaError for a failed response; built from status and body, never headers."""
    status = response.status_code
    where = f"{method} {path} → {status}"
    if status in (401, 403):
        return InvalidKeyError(where, status=status)
    if status == 404:
        return NotFoundError(_with_message(where, response), status=status)
    if status == 429:
        return RateLimitedError(_retry_after(response), _with_message(where, response))
    if status >= 500 or status == 408:  # a request timeout is worth another try
        return LumaUnavailableError(where, status=status)
    return BadRequestError(_luma_message(response) or where, status=status)


def _luma_message(response: httpx.Response) -> str | None:
    """Luma's own explanation from an error body, if it gave one."""
    try:
        data = response.json()
    except ValueError:
        return None
    if isinstance(data, dict):
        for name in ("message", "error", "detail"):
            value = data.get(name)
            if isinstance(value, str) and value:
                return redact(value[:300])
    return None


def _with_message(where: str, response: httpx.Response) -> str:
    message = _luma_message(response)
    return f"{where}: {message}" if message else where


def _retry_after(response: httpx.Response) -> float:
    raw = response.headers.get("retry-after")
    try:
        return max(0.0, float(raw)) if raw is not None else DEFAULT_RETRY_AFTER
    except ValueError:  # an HTTP date; Luma sends seconds, so this is only a fallback
        return DEFAULT_RETRY_AFTER


def _json(response: httpx.Response, method: str, path: str) -> Any:
    if not response.content:
        return {}
    try:
        return response.json()
    except ValueError:
        raise LumaUnavailableError(f"{method} {path}: response is not JSON") from None


# The event a request in flight sets once it is on the wire (`LumaPool._send`), if any.
_SENT: contextvars.ContextVar[asyncio.Event | None] = contextvars.ContextVar(
    "luma_request_sent", default=None
)


async def _mark_sent(_: Any, __: Any, ___: Any) -> None:
    """aiohttp's trace hook, run in the sending task once the request's headers are written
    (a listing's GET has no body): sets that request's `_SENT` event."""
    if (sent := _SENT.get()) is not None:
        sent.set()


def _aiohttp_session(max_connections: int) -> aiohttp.ClientSession:
    """The pool's connections, made on first use inside the running loop (as aiohttp asks)."""
    tracing = aiohttp.TraceConfig()
    tracing.on_request_headers_sent.append(_mark_sent)
    connector = aiohttp.TCPConnector(limit=max_connections)
    # trust_env: HTTPS_PROXY and friends, as httpx's own transport honoured them.
    return aiohttp.ClientSession(connector=connector, trace_configs=[tracing], trust_env=True)


async def _sent_or_done(sent: asyncio.Event, pending: asyncio.Future[Any]) -> None:
    """Wait until the request behind `pending` is written (or has already ended)."""
    waiter = asyncio.ensure_future(sent.wait())
    try:
        await asyncio.wait({waiter, pending}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()


def _abandon(pending: asyncio.Future[Any]) -> None:
    """Cancel a prefetch nobody will read, without an "exception never retrieved" warning."""
    pending.cancel()
    pending.add_done_callback(lambda done: done.cancelled() or done.exception())


def _guest_ref(email: str | None, guest_id: str | None) -> tuple[str | None, str | None]:
    """The (email, guest id) to name a guest by: the id when given, since it is exact,
    else the checked email (webhooks carry both; a person may carry only the email)."""
    if guest_id:
        return None, guest_id
    if email is None:
        raise ValueError("name the guest by email or guest_id")
    return normalize_email(email), None


def _paging(cursor: str | None, limit: int) -> dict[str, Any]:
    return {"pagination_cursor": cursor, "pagination_limit": limit}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in values.items() if value is not None}
