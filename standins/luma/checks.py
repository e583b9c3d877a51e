"""Requests to the current `/v1/...` paths, checked as Luma's published spec declares them.

The spec (`tests/contract/luma-openapi.json`) is the contract: a body or a query that violates
its `parameters` or `requestBody` schema is answered 400 before anything happens, so a client
that sends what the real Luma would refuse fails here too. The rules are written out rather
than read from the spec file because the simulator also runs where the tests (and jsonschema)
are not installed; the contract tests check that the two agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from standins.luma.contact_tags import COLORS
from standins.luma.model import APPROVAL_STATUSES, ApiError
from standins.luma.state import SORT_DIRECTIONS

WEBHOOK_TYPES = (
    "*",
    "calendar.event.added",
    "calendar.person.subscribed",
    "event.canceled",
    "event.created",
    "event.updated",
    "guest.registered",
    "guest.updated",
    "ticket.registered",
)
SETTABLE_STATUSES = ("approved", "declined", "pending_approval", "waitlist")
ADDABLE_STATUSES = ("approved", "pending_approval", "waitlist")
MAX_MESSAGE = 200


@dataclass(frozen=True, slots=True)
class Rule:
    """One JSON value: its type, and the constraints the spec puts on it."""

    kind: type
    required: bool = False
    nullable: bool = False
    choices: tuple[str, ...] | None = None
    max_length: int | None = None
    items: Rule | None = None  # arrays
    fields: Mapping[str, Rule] = field(default_factory=dict)  # objects


Shape = Mapping[str, Rule]

_ID = Rule(str, required=True)
_TICKET = Rule(dict, fields={"event_ticket_type_id": _ID})
_GUESTS = Rule(
    list,
    required=True,
    items=Rule(dict, fields={"email": _ID, "name": Rule(str, nullable=True)}),
)
_MESSAGE = Rule(str, nullable=True, max_length=MAX_MESSAGE)
_MAYBE_BOOL = Rule(bool, nullable=True)

BODIES: Mapping[str, Shape] = {
    "update_status": {
        "event_id": _ID,
        "guest_id": _ID,
        "status": Rule(str, required=True, choices=SETTABLE_STATUSES),
        "should_refund": Rule(bool),
        "send_email": _MAYBE_BOOL,
        "message": _MESSAGE,
    },
    "add_guests": {
        "event_id": _ID,
        "guests": _GUESTS,
        "ticket": Rule(dict, nullable=True, fields=_TICKET.fields),
        "tickets": Rule(list, nullable=True, items=_TICKET),
        "approval_status": Rule(str, nullable=True, choices=ADDABLE_STATUSES),
        "send_email": _MAYBE_BOOL,
    },
    "send_invites": {"event_id": _ID, "guests": _GUESTS, "message": _MESSAGE},
    "webhooks_create": {
        "url": _ID,
        "event_types": Rule(list, required=True, items=Rule(str, choices=WEBHOOK_TYPES)),
    },
    "webhooks_update": {
        "id": _ID,
        "event_types": Rule(list, items=Rule(str, choices=WEBHOOK_TYPES)),
        "status": Rule(str, choices=("active", "paused")),
    },
    "webhooks_delete": {"id": _ID},
    "contact_tags_create": {
        "name": _ID,
        "color": Rule(str, nullable=True, choices=COLORS),
    },
    "contact_tags_apply": {
        "tag": _ID,
        "user_ids": Rule(list, items=Rule(str)),
        "emails": Rule(list, items=Rule(str)),
    },
}


@dataclass(frozen=True, slots=True)
class Param:
    """One query parameter; `kind` is the spec's type ("date-time" for its string format)."""

    kind: str = "string"  # string | number | date-time | array
    required: bool = False
    choices: tuple[str, ...] | None = None


_PAGING = {"pagination_cursor": Param(), "pagination_limit": Param("number")}
_DIRECTION = Param(choices=SORT_DIRECTIONS)

QUERIES: Mapping[str, Mapping[str, Param]] = {
    "events": {
        "before": Param("date-time"),
        "after": Param("date-time"),
        **_PAGING,
        "platforms": Param("array", choices=("luma", "external")),
        "sort_column": Param(choices=("start_at",)),
        "sort_direction": _DIRECTION,
        "status": Param(choices=("approved", "pending")),
    },
    "event": {"event_id": Param(required=True)},
    "guests": {
        "event_id": Param(required=True),
        "approval_status": Param(choices=APPROVAL_STATUSES),
        **_PAGING,
        "sort_column": Param(
            choices=("name", "email", "created_at", "registered_at", "checked_in_at")
        ),
        "sort_direction": _DIRECTION,
    },
    "guest": {"event_id": Param(required=True), "id": Param(required=True)},
    "people": {
        "query": Param(),
        "tags": Param("array"),
        "calendar_membership_tier_id": Param(),
        "membership_status": Param(
            choices=("approved", "pending", "approved-pending-payment", "declined")
        ),
        **_PAGING,
        "sort_column": Param(
            choices=(
                "created_at",
                "event_checked_in_count",
                "event_approved_count",
                "name",
                "revenue_usd_cents",
            )
        ),
        "sort_direction": _DIRECTION,
    },
    "webhooks_list": dict(_PAGING),
    "webhooks_get": {"id": Param(required=True)},
    "org_calendars": dict(_PAGING),
    "org_events": {
        "before": Param("date-time"),
        "after": Param("date-time"),
        **_PAGING,
        "sort_direction": _DIRECTION,
    },
}


def check_body(operation: str, body: Mapping[str, Any]) -> None:
    """Refuse (400) a write body its requestBody schema rejects; unknown fields are allowed,
    as the spec's schemas allow them."""
    shape = BODIES.get(operation)
    if shape is not None:
        _check_object(body, shape, "body")


def check_query(operation: str, params: Any) -> None:
    """Refuse (400) a query its declared parameters reject; `params` is Starlette's
    QueryParams (repeated names are how the spec passes arrays)."""
    for name, param in QUERIES.get(operation, {}).items():
        values: list[str] = params.getlist(name)
        if not values:
            if param.required:
                raise ApiError(400, f"{name} is required")
            continue
        for value in values if param.kind == "array" else values[-1:]:
            _check_param(name, param, value)


def _check_param(name: str, param: Param, value: str) -> None:
    if param.choices is not None and value not in param.choices:
        raise ApiError(400, f"{name} must be one of {list(param.choices)}")
    if param.kind == "number":
        try:
            float(value)
        except ValueError:
            raise ApiError(400, f"{name} must be a number") from None
    elif param.kind == "date-time":
        try:
            datetime.fromisoformat(value)
        except ValueError:
            raise ApiError(400, f"{name} must be an ISO 8601 datetime") from None


def _check_object(value: Mapping[str, Any], shape: Shape, where: str) -> None:
    for name, rule in shape.items():
        if name in value:
            _check(value[name], rule, f"{where}.{name}")
        elif rule.required:
            raise ApiError(400, f"{where}.{name} is required")


def _check(value: Any, rule: Rule, where: str) -> None:
    if value is None:
        if rule.nullable:
            return
        raise ApiError(400, f"{where} cannot be null")
    # bool is an int in Python, never a JSON number or string: compare types exactly.
    if type(value) is not rule.kind:
        raise ApiError(400, f"{where} must be of type {_JSON_TYPES[rule.kind]}")
    if rule.choices is not None and value not in rule.choices:
        raise ApiError(400, f"{where} must be one of {list(rule.choices)}")
    if rule.max_length is not None and isinstance(value, str) and len(value) > rule.max_length:
        raise ApiError(400, f"{where} must be at most {rule.max_length} characters")
    if isinstance(value, list) and rule.items is not None:
        for index, item in enumerate(value):
            _check(item, rule.items, f"{where}[{index}]")
    if isinstance(value, dict):
        _check_object(value, rule.fields, where)


_JSON_TYPES = {str: "string", bool: "boolean", list: "array", dict: "object"}
