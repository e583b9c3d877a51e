"""Where each operation lives, and how its parameters are spelled, in each API generation.

The client is written once against `Endpoint`s and the names in `ApiPaths`; the two tables
below are the only place the legacy (`/public/v1`) and current (`/v1`) spellings differ. An
operation only the current API has (the key's calendar, an organization key's calendars and
events) is missing from the legacy table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Endpoint(StrEnum):
    GET_SELF = "get_self"
    GET_CALENDAR = "get_calendar"
    LIST_EVENTS = "list_events"
    GET_EVENT = "get_event"
    LIST_GUESTS = "list_guests"
    GET_GUEST = "get_guest"
    UPDATE_GUEST_STATUS = "update_guest_status"
    ADD_GUESTS = "add_guests"
    SEND_INVITES = "send_invites"
    LIST_PEOPLE = "list_people"
    CREATE_WEBHOOK = "create_webhook"
    LIST_WEBHOOKS = "list_webhooks"
    DELETE_WEBHOOK = "delete_webhook"
    LIST_ORG_CALENDARS = "list_org_calendars"
    LIST_ORG_EVENTS = "list_org_events"
    LIST_CONTACT_TAGS = "list_contact_tags"
    CREATE_CONTACT_TAG = "create_contact_tag"
    APPLY_CONTACT_TAG = "apply_contact_tag"


WRITES = frozenset(
    {
        Endpoint.UPDATE_GUEST_STATUS,
        Endpoint.ADD_GUESTS,
        Endpoint.SEND_INVITES,
        Endpoint.CREATE_WEBHOOK,
        Endpoint.DELETE_WEBHOOK,
        Endpoint.CREATE_CONTACT_TAG,
        Endpoint.APPLY_CONTACT_TAG,
    }
)

# A calendar's own routes: they name no calendar, so an organization key (which opens several)
# cannot use them for one of its calendars.
CALENDAR_ROUTES = frozenset(
    {
        Endpoint.GET_CALENDAR,
        Endpoint.LIST_EVENTS,
        Endpoint.LIST_PEOPLE,
        Endpoint.CREATE_WEBHOOK,
        Endpoint.LIST_WEBHOOKS,
        Endpoint.DELETE_WEBHOOK,
        Endpoint.LIST_CONTACT_TAGS,
        Endpoint.CREATE_CONTACT_TAG,
        Endpoint.APPLY_CONTACT_TAG,
    }
)
# Routes about one event's guests, named by `ApiPaths.event_param`: an organization key may
# reach every calendar's events with them, so a tenant on one checks the event is its own.
GUEST_ROUTES = frozenset(
    {
        Endpoint.LIST_GUESTS,
        Endpoint.GET_GUEST,
        Endpoint.UPDATE_GUEST_STATUS,
        Endpoint.ADD_GUESTS,
        Endpoint.SEND_INVITES,
    }
)

GuestRef = Callable[[str | None, str | None], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class ApiPaths:
    """One generation's paths and parameter names."""

    name: str
    routes: Mapping[Endpoint, str]
    event_param: str  # names the event in guest queries and in write bodies
    get_event_param: str  # names the event in get-event
    guest_email_param: str  # get-guest by email
    guest_id_param: str  # get-guest by guest id
    guest_ref: GuestRef  # names the guest in an update-status body, from (email, guest id)
    settable_statuses: frozenset[str]
    status_notifications: bool  # accepts `send_email` and `message` on update-status

    def method(self, endpoint: Endpoint) -> str:
        return "POST" if endpoint in WRITES else "GET"


def _legacy_guest(email: str | None, guest_id: str | None) -> dict[str, Any]:
    if email is not None:
        return {"guest": {"type": "email", "email": email}}
    return {"guest": {"type": "api_id", "api_id": guest_id}}


def _current_guest(email: str | None, guest_id: str | None) -> dict[str, Any]:
    return {"guest_id": email if email is not None else guest_id}


LEGACY = ApiPaths(
    name="legacy",
    routes={
        Endpoint.GET_SELF: "/public/v1/user/get-self",
        Endpoint.LIST_EVENTS: "/public/v1/calendar/list-events",
        Endpoint.GET_EVENT: "/public/v1/event/get",
        Endpoint.LIST_GUESTS: "/public/v1/event/get-guests",
        Endpoint.GET_GUEST: "/public/v1/event/get-guest",
        Endpoint.UPDATE_GUEST_STATUS: "/public/v1/event/update-guest-status",
        Endpoint.ADD_GUESTS: "/public/v1/event/add-guests",
        Endpoint.SEND_INVITES: "/public/v1/event/send-invites",
        Endpoint.LIST_PEOPLE: "/public/v1/calendar/list-people",
    },
    event_param="event_api_id",
    get_event_param="api_id",
    guest_email_param="email",
    guest_id_param="api_id",
    guest_ref=_legacy_guest,
    settable_statuses=frozenset({"approved", "declined"}),
    status_notifications=False,
)

CURRENT = ApiPaths(
    name="current",
    routes={
        Endpoint.GET_SELF: "/v1/users/get-self",
        Endpoint.GET_CALENDAR: "/v1/calendars/get",
        Endpoint.LIST_EVENTS: "/v1/calendars/events/list",
        Endpoint.GET_EVENT: "/v1/events/get",
        Endpoint.LIST_GUESTS: "/v1/events/guests/list",
        Endpoint.GET_GUEST: "/v1/events/guests/get",
        Endpoint.UPDATE_GUEST_STATUS: "/v1/events/guests/update-status",
        Endpoint.ADD_GUESTS: "/v1/events/guests/add",
        Endpoint.SEND_INVITES: "/v1/events/guests/send-invites",
        Endpoint.LIST_PEOPLE: "/v1/calendars/contacts/list",
        Endpoint.CREATE_WEBHOOK: "/v2/webhooks/create",
        Endpoint.LIST_WEBHOOKS: "/v1/webhooks/list",
        Endpoint.DELETE_WEBHOOK: "/v1/webhooks/delete",
        Endpoint.LIST_ORG_CALENDARS: "/v1/organizations/calendars/list",
        Endpoint.LIST_ORG_EVENTS: "/v1/organizations/events/list",
        Endpoint.LIST_CONTACT_TAGS: "/v1/calendars/contact-tags/list",
        Endpoint.CREATE_CONTACT_TAG: "/v1/calendars/contact-tags/create",
        Endpoint.APPLY_CONTACT_TAG: "/v1/calendars/contact-tags/apply",
    },
    event_param="event_id",
    get_event_param="event_id",
    guest_email_param="id",
    guest_id_param="id",
    guest_ref=_current_guest,
    settable_statuses=frozenset({"approved", "declined", "pending_approval", "waitlist"}),
    status_notifications=True,
)
