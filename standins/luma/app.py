"""The simulator's HTTP face: both Luma path generations plus `/_sim/` control endpoints.

Every Luma route goes through one gate (auth, rate limit, latency, faults) and one operation
function shared by both generations; only parameter names and JSON shapes differ between them.
Requests to the current paths are checked against the published spec first (`checks`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.datastructures import QueryParams
from starlette.requests import ClientDisconnect

from standins.luma import checks, contact_tags, shapes, webhooks
from standins.luma.control import control_router
from standins.luma.model import ApiError, Calendar, Event, Organization
from standins.luma.paging import Page, page_limit, paginate
from standins.luma.state import SORT_DIRECTIONS, Admission, Principal, SimulatorState
from standins.luma.webhooks import WebhookSender

Json = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Generation:
    """What differs between the legacy (generation 1) and current (generation 3) API."""

    legacy: bool
    paths: Mapping[str, str]
    event_get_param: str  # query parameter of get-event
    event_field: str  # event reference in guest queries and write bodies


LEGACY = Generation(
    legacy=True,
    paths={
        "self": "/public/v1/user/get-self",
        "events": "/public/v1/calendar/list-events",
        "event": "/public/v1/event/get",
        "guests": "/public/v1/event/get-guests",
        "guest": "/public/v1/event/get-guest",
        "update_status": "/public/v1/event/update-guest-status",
        "add_guests": "/public/v1/event/add-guests",
        "send_invites": "/public/v1/event/send-invites",
        "people": "/public/v1/calendar/list-people",
    },
    event_get_param="api_id",
    event_field="event_api_id",
)
CURRENT = Generation(
    legacy=False,
    paths={
        "self": "/v1/users/get-self",
        "events": "/v1/calendars/events/list",
        "event": "/v1/events/get",
        "guests": "/v1/events/guests/list",
        "guest": "/v1/events/guests/get",
        "update_status": "/v1/events/guests/update-status",
        "add_guests": "/v1/events/guests/add",
        "send_invites": "/v1/events/guests/send-invites",
        "people": "/v1/calendars/contacts/list",
        "calendar": "/v1/calendars/get",
        "webhooks_create": "/v2/webhooks/create",
        "webhooks_list": "/v1/webhooks/list",
        "webhooks_get": "/v2/webhooks/get",
        "webhooks_update": "/v2/webhooks/update",
        "webhooks_delete": "/v1/webhooks/delete",
        "org_calendars": "/v1/organizations/calendars/list",
        "org_events": "/v1/organizations/events/list",
        "contact_tags_list": "/v1/calendars/contact-tags/list",
        "contact_tags_create": "/v1/calendars/contact-tags/create",
        "contact_tags_apply": "/v1/calendars/contact-tags/apply",
    },
    event_get_param="event_id",
    event_field="event_id",
)
LEGACY_STATUSES = ("approved", "declined")


@dataclass(frozen=True, slots=True)
class Call:
    """One admitted request as an operation sees it."""

    state: SimulatorState
    gen: Generation
    principal: Principal  # the calendar of a calendar key, or an organization key's org
    path: str
    params: Any  # query parameters for GET, the JSON object for POST
    operation: str  # the name in OPERATIONS

    @property
    def calendar(self) -> Calendar:
        """The key's calendar, for a calendar's own routes. An organization key names no one
        calendar (the spec gives these routes no calendar parameter), so they refuse it."""
        if isinstance(self.principal, Organization):
            raise ApiError(403, f"{self.path} needs a calendar API key, not an organization key")
        return self.principal

    @property
    def organization(self) -> Organization:
        """The organization of an organization key, for `/v1/organizations/...` routes."""
        if not isinstance(self.principal, Organization):
            raise ApiError(403, f"{self.path} needs an organization API key")
        return self.principal

    def event(self, event_id: str | None) -> tuple[Event, Calendar]:
        """An event the key manages, and its calendar (whose contacts and write log a change
        to its guests goes to, whichever kind of key made it)."""
        event = self.state.event_for(self.principal, event_id)
        return event, self.state.calendar(event.calendar_id)


Operation = Callable[[Call], Json]


def create_app(state: SimulatorState) -> FastAPI:
    sender = WebhookSender(state)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        sender.start()
        state.arm_hangs()
        yield
        state.release_hangs()
        await sender.stop()

    app = FastAPI(title="Luma API simulator", lifespan=lifespan)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(ClientDisconnect, _client_gone)
    for gen in (LEGACY, CURRENT):
        for name, path in gen.paths.items():
            operation, method = OPERATIONS[name]
            app.add_api_route(
                path,
                _endpoint(state, gen, path, name, operation),
                methods=[method],
                name=f"{name}:{path}",
            )
    app.include_router(control_router(state))
    return app


def _endpoint(
    state: SimulatorState, gen: Generation, path: str, name: str, operation: Operation
) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        return await _serve(state, gen, path, name, operation, request)

    return endpoint


async def _serve(
    state: SimulatorState,
    gen: Generation,
    path: str,
    name: str,
    operation: Operation,
    request: Request,
) -> Response:
    """Admit, delay, maybe fault, then run the operation; rate headers go on every answer.

    The latency is Luma's whole answer time: a read is answered `latency_seconds` after it
    arrived, its own work included (a page of guests takes the simulator milliseconds to
    build, which Luma's answer time already holds). A write is delayed first and applied
    after, so a client that gives up during the delay has changed nothing."""
    arrived = asyncio.get_running_loop().time()
    admission = state.admit(request.headers.get("x-luma-api-key"))
    state.counters[f"op:{name}"] += 1  # admitted requests by operation, for tests to count
    headers = admission.headers
    config = state.config
    if request.method == "GET" and not admission.fault:
        try:
            params = request.query_params
            body = _operate(state, gen, path, name, operation, admission, params)
            return JSONResponse(body, headers=headers)
        finally:  # an error too is answered after the latency
            await _until(arrived + config.latency_seconds)
    if config.latency_seconds > 0:
        await asyncio.sleep(config.latency_seconds)
    if admission.fault == "error":
        raise ApiError(500, "Internal server error", headers)
    lands = config.timeouts_apply_writes and request.method == "POST"
    if admission.fault == "timeout" and not lands:
        await state.hang()
        raise ApiError(504, "Gateway timeout", headers)
    body = _operate(state, gen, path, name, operation, admission, await _params(request, headers))
    if admission.fault == "timeout":
        await state.hang()
        raise ApiError(504, "Gateway timeout", headers)
    return JSONResponse(body, headers=headers)


def _operate(
    state: SimulatorState,
    gen: Generation,
    path: str,
    name: str,
    operation: Operation,
    admission: Admission,
    params: Any,
) -> Any:
    """The operation's answer body; its errors carry the admission's rate headers."""
    try:
        if not gen.legacy:  # the current paths answer as the published spec says
            check = checks.check_query if isinstance(params, QueryParams) else checks.check_body
            check(name, params)
        return operation(Call(state, gen, admission.principal, path, params, name))
    except ApiError as exc:
        exc.headers = {**admission.headers, **exc.headers}
        raise


async def _until(moment: float) -> None:
    left = moment - asyncio.get_running_loop().time()
    if left > 0:
        await asyncio.sleep(left)


async def _params(request: Request, headers: Mapping[str, str]) -> Any:
    if request.method == "GET":
        return request.query_params
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError as exc:
        raise ApiError(400, "Request body must be JSON", dict(headers)) from exc
    if not isinstance(body, dict):
        raise ApiError(400, "Request body must be a JSON object", dict(headers))
    return body


async def _api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return JSONResponse({"message": exc.message}, status_code=exc.status, headers=exc.headers)


async def _client_gone(_: Request, __: Exception) -> Response:
    """A client killed mid-request (the crash tests do it on purpose) is not a server error."""
    return Response(status_code=499)


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse({"message": str(exc.errors())}, status_code=400)


# --- parameter helpers -------------------------------------------------------------------


def _time(params: Mapping[str, Any], name: str) -> float | None:
    raw = params.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise ApiError(400, f"{name} must be an ISO 8601 datetime") from exc
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def _direction(params: Mapping[str, Any]) -> str:
    direction = params.get("sort_direction") or "asc"
    if direction not in SORT_DIRECTIONS:
        raise ApiError(400, f"sort_direction must be one of {list(SORT_DIRECTIONS)}")
    return direction


def _optional_bool(body: Mapping[str, Any], name: str) -> bool | None:
    value = body.get(name)
    if value is not None and not isinstance(value, bool):
        raise ApiError(400, f"{name} must be true or false")
    return value


def _page(page: Page[Any], render: Callable[[Any], Json], gen: Generation) -> Json:
    body: Json = {"entries": [render(item) for item in page.items], "has_more": page.has_more}
    # The spec's `next_cursor` is an optional string, never null; legacy answers send null.
    if page.next_cursor is not None or gen.legacy:
        body["next_cursor"] = page.next_cursor
    return body


def _guest_list(body: Mapping[str, Any], gen: Generation) -> list[tuple[str, str | None]]:
    """Validated, lower-cased, de-duplicated (email, name) pairs; nothing applies if one is bad.

    The legacy paths refuse an empty list; the spec allows one (it adds nobody)."""
    guests = body.get("guests")
    if not isinstance(guests, list) or (gen.legacy and not guests):
        raise ApiError(400, "guests must be a non-empty list of {email, name}")
    entries: dict[str, str | None] = {}
    for item in guests:
        email = item.get("email") if isinstance(item, dict) else None
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(email, str) or "@" not in email or " " in email.strip():
            raise ApiError(400, f"Invalid guest email: {email!r}")
        if name is not None and not isinstance(name, str):
            raise ApiError(400, "Guest name must be a string")
        entries.setdefault(email.strip().lower(), name)
    return list(entries.items())


# --- operations --------------------------------------------------------------------------


def get_self(call: Call) -> Json:
    owner = call.principal.owner
    return shapes.self_v1(owner) if call.gen.legacy else shapes.self_v3(owner)


def get_calendar(call: Call) -> Json:
    return shapes.calendar_v3(call.calendar)


def list_events(call: Call) -> Json:
    params = call.params
    if (params.get("sort_column") or "start_at") != "start_at":
        raise ApiError(400, "sort_column must be start_at")
    render = shapes.event_entry_v1 if call.gen.legacy else shapes.event_entry_v3
    if not call.gen.legacy and _excluded_by_current_filters(params):
        return _page(Page(items=[], has_more=False, next_cursor=None), render, call.gen)
    return _page(_events_page(call, call.calendar), render, call.gen)


def _events_page(call: Call, principal: Principal) -> Page[Event]:
    params = call.params
    return call.state.list_events(
        principal,
        after=_time(params, "after"),
        before=_time(params, "before"),
        descending=_direction(params).startswith("desc"),
        cursor=params.get("pagination_cursor"),
        limit=page_limit(params.get("pagination_limit")),
    )


def list_org_calendars(call: Call) -> Json:
    """`/v1/organizations/calendars/list`: the calendars the organization key opens."""
    calendars = call.state.calendars_of(call.organization)
    page = paginate(
        [(index,) for index in range(len(calendars))],  # append-only: positions are stable
        calendars,
        call.params.get("pagination_cursor"),
        page_limit(call.params.get("pagination_limit")),
    )
    return _page(page, shapes.calendar_v3, call.gen)


def list_org_events(call: Call) -> Json:
    """`/v1/organizations/events/list`: every event of the organization's calendars."""
    state = call.state
    page = _events_page(call, call.organization)
    return _page(page, lambda e: shapes.org_event_v3(e, state.calendar(e.calendar_id)), call.gen)


def _excluded_by_current_filters(params: Any) -> bool:
    """All simulated events are approved Luma events; other filter values match nothing."""
    platforms = set(params.getlist("platforms"))
    return bool(platforms and "luma" not in platforms) or params.get("status") == "pending"


def get_event(call: Call) -> Json:
    event, calendar = call.event(call.params.get(call.gen.event_get_param))
    if not call.gen.legacy:
        return shapes.event_get_v3(event, calendar)
    owner = shapes.self_v1(calendar.owner)["user"]
    return {"event": shapes.event_v1(event), "hosts": [owner]}


def list_guests(call: Call) -> Json:
    params = call.params
    event, _ = call.event(params.get(call.gen.event_field))
    page = call.state.list_guests(
        event,
        status=params.get("approval_status") or None,
        column=params.get("sort_column") or "created_at",
        direction=_direction(params),
        cursor=params.get("pagination_cursor"),
        limit=page_limit(params.get("pagination_limit")),
    )
    render = shapes.guest_entry_v1 if call.gen.legacy else shapes.guest_v3
    return _page(page, lambda guest: render(guest, event), call.gen)


def get_guest(call: Call) -> Json:
    params = call.params
    event, _ = call.event(params.get(call.gen.event_field))
    if call.gen.legacy:
        guest = call.state.guest_for(event, params.get("email") or params.get("api_id"))
        return {"guest": shapes.guest_v1(guest, event)}
    return shapes.guest_get_v3(call.state.guest_for(event, params.get("id")), event)


def update_status(call: Call) -> Json:
    body = call.params
    if call.gen.legacy:
        ref, status = _legacy_status_body(body)
    else:
        ref, status = body["guest_id"], body["status"]  # checked against the spec already
        if body.get("message") is not None and body.get("send_email") is False:
            raise ApiError(400, "message cannot be combined with send_email: false")
    should_refund = _optional_bool(body, "should_refund")
    event, calendar = call.event(body.get(call.gen.event_field))
    guest = call.state.guest_for(event, ref)
    call.state.update_guest_status(
        calendar, event, guest, status, should_refund=should_refund, path=call.path
    )
    return {}


def _legacy_status_body(body: Mapping[str, Any]) -> tuple[str, str]:
    guest = body.get("guest")
    kind = guest.get("type") if isinstance(guest, dict) else None
    ref = guest.get(kind) if isinstance(guest, dict) and kind in ("email", "api_id") else None
    if not isinstance(ref, str) or not ref:
        raise ApiError(
            400,
            'guest must be {"type": "email", "email": ...} or {"type": "api_id", "api_id": ...}',
        )
    status = body.get("status")
    if status not in LEGACY_STATUSES:
        raise ApiError(400, f"status must be one of {list(LEGACY_STATUSES)}")
    return ref, status


def add_guests(call: Call) -> Json:
    entries = _guest_list(call.params, call.gen)
    if not call.gen.legacy and call.params.get("ticket") and call.params.get("tickets"):
        raise ApiError(400, "ticket and tickets cannot be combined")
    status = call.params.get("approval_status") or "approved"
    event, calendar = call.event(call.params.get(call.gen.event_field))
    call.state.add_guests(calendar, event, entries, status=status, path=call.path)
    return {}


def send_invites(call: Call) -> Json:
    entries = _guest_list(call.params, call.gen)
    event, calendar = call.event(call.params.get(call.gen.event_field))
    call.state.add_guests(calendar, event, entries, status="invited", path=call.path)
    return {}


def list_people(call: Call) -> Json:
    params = call.params
    filters = ("tags", "membership_status", "calendar_membership_tier_id")
    if not call.gen.legacy and any(params.get(name) for name in filters):
        # Seeded contacts carry no tags and no memberships: such a filter matches nobody.
        return _page(Page(items=[], has_more=False, next_cursor=None), dict, call.gen)
    page = call.state.list_people(
        call.calendar,
        query=params.get("query"),
        cursor=params.get("pagination_cursor"),
        limit=page_limit(params.get("pagination_limit")),
    )
    render = shapes.person_v1 if call.gen.legacy else shapes.person_v3
    return _page(page, partial(render, call.calendar), call.gen)


def create_webhook(call: Call) -> Json:
    return webhooks.webhook_json(webhooks.create_webhook(call.state, call.calendar, call.params))


def list_webhooks(call: Call) -> Json:
    hooks = sorted(webhooks.webhooks_of(call.state, call.calendar), key=lambda h: h.id)
    page = paginate(
        [(hook.id,) for hook in hooks],
        hooks,
        call.params.get("pagination_cursor"),
        page_limit(call.params.get("pagination_limit")),
    )
    return _page(page, webhooks.webhook_json, call.gen)


def get_webhook(call: Call) -> Json:
    hook = webhooks.webhook_for(call.state, call.calendar, call.params.get("id"))
    return webhooks.webhook_json(hook)


def update_webhook(call: Call) -> Json:
    return webhooks.webhook_json(webhooks.update_webhook(call.state, call.calendar, call.params))


def delete_webhook(call: Call) -> Json:
    webhooks.delete_webhook(call.state, call.calendar, call.params)
    return {}


def list_contact_tags(call: Call) -> Json:
    return contact_tags.list_tags(call.state, call.calendar)


def create_contact_tag(call: Call) -> Json:
    return contact_tags.create_tag(call.state, call.calendar, call.params)


def apply_contact_tag(call: Call) -> Json:
    return contact_tags.apply_tag(call.state, call.calendar, call.params)


OPERATIONS: dict[str, tuple[Operation, str]] = {
    "self": (get_self, "GET"),
    "calendar": (get_calendar, "GET"),
    "events": (list_events, "GET"),
    "event": (get_event, "GET"),
    "guests": (list_guests, "GET"),
    "guest": (get_guest, "GET"),
    "update_status": (update_status, "POST"),
    "add_guests": (add_guests, "POST"),
    "send_invites": (send_invites, "POST"),
    "people": (list_people, "GET"),
    "webhooks_create": (create_webhook, "POST"),
    "webhooks_list": (list_webhooks, "GET"),
    "webhooks_get": (get_webhook, "GET"),
    "webhooks_update": (update_webhook, "POST"),
    "webhooks_delete": (delete_webhook, "POST"),
    "org_calendars": (list_org_calendars, "GET"),
    "org_events": (list_org_events, "GET"),
    "contact_tags_list": (list_contact_tags, "GET"),
    "contact_tags_create": (create_contact_tag, "POST"),
    "contact_tags_apply": (apply_contact_tag, "POST"),
}
