"""JSON shapes of the two API generations the simulator serves.

Generation 1 (legacy `/public/v1/...`) wraps objects and prefixes fields (`api_id`,
`user_email`); generation 3 (current `/v1/...`) is flat with `id`, `email`, `name`. Both are
rendered from the same records, so a change made through one generation is visible in the other.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from standins.luma.model import Calendar, Event, Guest, Person, Tag, Ticket, WriteRecord

Json = dict[str, Any]


def iso(ts: float | None) -> str | None:
    """Luma's timestamp format: UTC, milliseconds, `Z` suffix."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _duration(event: Event) -> str:
    minutes = round((event.end_at - event.start_at) / 60)
    return f"P0Y0M0DT{minutes // 60}H{minutes % 60}M0S"


def _geo(event: Event) -> Json:
    city = event.city
    return {
        "address": city.address,
        "city": city.name,
        "region": city.region,
        "country": city.country,
        "city_state": f"{city.name}, {city.region}",
        "full_address": f"{city.venue}, {city.address}, {city.name}, {city.country}",
        "google_maps_place_id": None,
        "apple_maps_place_id": None,
        "description": city.venue,
    }


def _event_common(event: Event) -> Json:
    return {
        "created_at": iso(event.created_at),
        "cover_url": f"https://images.lumacdn.com/event-covers/{event.slug}.png",
        "description": event.description,
        "description_md": event.description,
        "duration_interval": _duration(event),
        "end_at": iso(event.end_at),
        "geo_address_json": _geo(event),
        "meeting_url": None,
        "name": event.name,
        "start_at": iso(event.start_at),
        "timezone": event.city.timezone,
        "url": f"https://lu.ma/{event.slug}",
        "visibility": event.visibility,
        "zoom_meeting_url": None,
    }


def event_v1(event: Event) -> Json:
    return {
        "api_id": event.id,
        "calendar_api_id": event.calendar_id,
        "user_api_id": event.host_user_id,
        "geo_latitude": str(event.city.latitude),
        "geo_longitude": str(event.city.longitude),
        **_event_common(event),
    }


def event_entry_v1(event: Event) -> Json:
    return {"api_id": event.id, "event": event_v1(event), "tags": [_tag_v1(t) for t in event.tags]}


def event_v3(event: Event) -> Json:
    return {
        "id": event.id,
        "calendar_id": event.calendar_id,
        "user_id": event.host_user_id,
        "platform": "luma",
        "location_type": "offline",
        "coordinate": {"latitude": event.city.latitude, "longitude": event.city.longitude},
        "tags": [{"id": t.id, "name": t.name} for t in event.tags],
        "updated_at": iso(event.updated_at),
        **_event_common(event),
    }


def _tag_v1(tag: Tag) -> Json:
    return {"api_id": tag.id, "name": tag.name}


def _answers(guest: Guest, event: Event, *, with_value: bool) -> list[Json]:
    if not guest.answered:
        return []
    person = guest.person
    company_q, title_q, linkedin_q = event.question_ids
    rows = [
        ("Company", company_q, "company", person.company),
        ("Job title", title_q, "text", person.job_title),
        ("LinkedIn", linkedin_q, "linkedin", person.linkedin_url),
    ]
    answers = []
    for label, question_id, question_type, answer in rows:
        if answer is None:
            continue
        row: Json = {
            "label": label,
            "question_id": question_id,
            "question_type": question_type,
            "answer": answer,
        }
        if with_value:
            row["value"] = answer
        answers.append(row)
    return answers


def _ticket(ticket: Ticket, guest: Guest, *, legacy: bool) -> Json:
    prefix = "api_" if legacy else ""
    return {
        f"{prefix}id": ticket.id,
        "amount": ticket.amount,
        "amount_discount": ticket.amount_discount,
        "amount_tax": ticket.amount_tax,
        "currency": ticket.currency.lower(),
        "checked_in_at": iso(guest.checked_in_at),
        f"event_ticket_type_{prefix}id": ticket.type_id,
        "is_captured": ticket.amount > 0,
        "name": ticket.name,
    }


def _qr(guest: Guest) -> str:
    return f"https://lu.ma/check-in/{guest.event_id}?pk={guest.id.removeprefix('gst-')}"


def guest_v1(guest: Guest, event: Event) -> Json:
    person = guest.person
    tickets = [_ticket(guest.ticket, guest, legacy=True)] if guest.ticket else []
    return {
        "api_id": guest.id,
        "user_api_id": person.id,
        "user_email": person.email,
        "user_name": person.name,
        "user_first_name": person.first_name,
        "user_last_name": person.last_name,
        "approval_status": guest.approval_status,
        "check_in_qr_code": _qr(guest),
        "checked_in_at": iso(guest.checked_in_at),
        "custom_source": None,
        "eth_address": None,
        "invited_at": iso(guest.invited_at),
        "joined_at": iso(guest.registered_at),
        "phone_number": None,
        "registered_at": iso(guest.registered_at),
        "registration_answers": _answers(guest, event, with_value=False),
        "solana_address": None,
        "event_tickets": tickets,
        "event_ticket": tickets[0] if tickets else None,
    }


def guest_entry_v1(guest: Guest, event: Event) -> Json:
    return {"api_id": guest.id, "guest": guest_v1(guest, event)}


def guest_v3(guest: Guest, event: Event) -> Json:
    person = guest.person
    tickets = [_ticket(guest.ticket, guest, legacy=False)] if guest.ticket else []
    return {
        "id": guest.id,
        "user_id": person.id,
        "email": person.email,
        "name": person.name,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "approval_status": guest.approval_status,
        "check_in_qr_code": _qr(guest),
        "checked_in_at": iso(guest.checked_in_at),
        "created_at": iso(guest.created_at),
        "updated_at": iso(guest.updated_at),
        "registered_at": iso(guest.registered_at),
        "invited_at": iso(guest.invited_at),
        "joined_at": iso(guest.registered_at),
        "phone_number": None,
        "custom_source": None,
        "utm_source": guest.utm_source,
        "registration_answers": _answers(guest, event, with_value=True),
        "event_tickets": tickets,
    }


def _user_fields(person: Person) -> Json:
    return {
        "email": person.email,
        "name": person.name,
        "first_name": person.first_name,
        "last_name": person.last_name,
        "avatar_url": f"https://images.lumacdn.com/avatars/{person.id}.png",
    }


def self_v1(calendar: Calendar) -> Json:
    return {"user": {"api_id": calendar.owner.id, **_user_fields(calendar.owner)}}


def self_v3(calendar: Calendar) -> Json:
    return {"id": calendar.owner.id, **_user_fields(calendar.owner)}


def _person_counts(calendar: Calendar, person: Person) -> Json:
    guests = calendar.guests_by_person.get(person.id, [])
    return {
        "created_at": iso(person.created_at),
        "event_approved_count": sum(g.approval_status == "approved" for g in guests),
        "event_checked_in_count": sum(g.checked_in_at is not None for g in guests),
        "revenue_usd_cents": sum(g.ticket.amount for g in guests if g.paid and g.ticket),
        "tags": [],
    }


def person_v1(calendar: Calendar, person: Person) -> Json:
    return {
        "api_id": person.id,
        **_person_counts(calendar, person),
        "user": {"api_id": person.id, **_user_fields(person)},
    }


def person_v3(calendar: Calendar, person: Person) -> Json:
    return {
        "id": person.id,
        "user_id": person.id,
        **_user_fields(person),
        **_person_counts(calendar, person),
    }


def write_record(record: WriteRecord) -> Json:
    return {
        "seq": record.seq,
        "endpoint": record.endpoint,
        "path": record.path,
        "calendar_id": record.calendar_id,
        "event_id": record.event_id,
        "guest_id": record.guest_id,
        "email": record.email,
        "old_status": record.old_status,
        "new_status": record.new_status,
        "changed": record.changed,
        "should_refund": record.should_refund,
        "at": iso(record.at),
    }
