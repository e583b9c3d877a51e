"""Deterministic, realistic calendars, events and guests generated from a seed.

Everything draws from a `random.Random` handed in by the caller, so one seed always yields the
same ids, names, emails and statuses. Generation is kept to plain loops and small records
because tests build events with 50,000 guests and expect that to take well under two seconds.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from standins.luma.model import (
    APPROVAL_STATUSES,
    ApiError,
    Calendar,
    City,
    Event,
    Guest,
    Organization,
    Person,
    Tag,
    Ticket,
)

DAY = 86_400.0

CITIES = (
    City("Dubai", "Dubai", "United Arab Emirates", "Asia/Dubai", 25.2138, 55.2807,
         "DIFC Gate Village 3", "Gate Village 3, DIFC", "AED"),
    City("Lisbon", "Lisbon", "Portugal", "Europe/Lisbon", 38.7036, -9.1780,
         "LX Factory", "R. Rodrigues de Faria 103", "EUR"),
    City("Berlin", "Berlin", "Germany", "Europe/Berlin", 52.5374, 13.3946,
         "Factory Berlin Mitte", "Rheinsberger Str. 76/77", "EUR"),
    City("Singapore", "Singapore", "Singapore", "Asia/Singapore", 1.3120, 103.8636,
         "The Hive Lavender", "10 Kallang Ave", "SGD"),
    City("New York", "NY", "United States", "America/New_York", 40.7399, -73.9946,
         "Chelsea Loft", "115 W 18th St", "USD"),
    City("London", "England", "United Kingdom", "Europe/London", 51.5206, -0.0704,
         "Second Home Spitalfields", "68 Hanbury St", "GBP"),
    City("San Francisco", "CA", "United States", "America/Los_Angeles", 37.7825, -122.3915,
         "SoMa Event Space", "88 Colin P Kelly Jr St", "USD"),
    City("Paris", "Île-de-France", "France", "Europe/Paris", 48.8344, 2.3708,
         "Station F", "5 Parvis Alan Turing", "EUR"),
    City("Tokyo", "Tokyo", "Japan", "Asia/Tokyo", 35.6580, 139.7016,
         "Shibuya Scramble Square", "2-24-12 Shibuya", "JPY"),
    City("Amsterdam", "North Holland", "Netherlands", "Europe/Amsterdam", 52.3383, 4.8557,
         "B. Amsterdam", "Johan Huizingalaan 400", "EUR"),
)  # fmt: skip
CITY_BY_NAME = {city.name.casefold(): city for city in CITIES}

EVENT_NAMES = (
    "Summer Mixer",
    "{city} Founders Workshop",
    "Main Conference {year}",
    "Founders Dinner",
    "AI Builders Meetup {city}",
    "Product Leaders Roundtable",
    "Demo Day {city}",
    "Climate Tech Happy Hour",
    "Women in Tech Brunch",
    "Investor Office Hours",
    "{city} Hackathon",
    "Web3 Breakfast {city}",
    "Growth Marketing Salon",
    "Design Systems Night",
)
CALENDAR_NAMES = (
    "Founders Collective",
    "AI Builders Guild",
    "Nomad Tech Circle",
    "Atlas Ventures Events",
    "Climate Founders Club",
    "Product Leaders Forum",
)
TAG_NAMES = ("Networking", "Workshop", "Conference", "Dinner", "Meetup", "Invite only")

FIRST_NAMES = (
    "Maya", "Liam", "Aisha", "Noah", "Sofia", "Omar", "Chen", "Elena", "Lucas", "Priya",
    "Mateo", "Yuki", "Hannah", "Ravi", "Amara", "Jonas", "Lea", "Diego", "Fatima", "Ethan",
    "Ines", "Kenji", "Olivia", "Tariq", "Zara", "Felix", "Nadia", "Samuel", "Mei", "Arjun",
    "Clara", "Hugo", "Layla", "Daniel", "Anika", "Marco", "Sara", "Tomas", "Yara", "Leon",
    "Emma", "Kwame", "Julia", "Ahmed", "Nora", "Wei", "Chloe", "Rafael", "Ingrid", "Ali",
)  # fmt: skip
LAST_NAMES = (
    "Chen", "Silva", "Khan", "Müller", "Garcia", "Tanaka", "Rossi", "Patel", "Dubois", "Kim",
    "Novak", "Okafor", "Haddad", "Schmidt", "Costa", "Nakamura", "Johnson", "Ferreira", "Singh",
    "Andersen", "Moreau", "Lopez", "Ivanova", "Cohen", "Yamamoto", "Mensah", "Wright", "Almeida",
    "Fischer", "Rahman", "Martin", "Nguyen", "Bauer", "Santos", "Kowalski", "Dias", "Ahmed",
    "Larsen", "Suzuki", "Brown", "Lee", "Oliveira", "Petrov", "Wagner", "Mendes", "Sato",
)  # fmt: skip
_ASCII = str.maketrans({"ü": "u", "é": "e", "ö": "o", "ä": "a"})

COMPANIES = (
    ("Acme", "acme.com"), ("Globex", "globex.com"), ("Initech", "initech.com"),
    ("Hooli", "hooli.com"), ("Pied Piper", "piedpiper.com"), ("Northwind", "northwind.io"),
    ("Contoso", "contoso.com"), ("Vandelay Industries", "vandelay.com"),
    ("Aperture Labs", "aperture.ai"), ("Cyberdyne", "cyberdyne.ai"), ("Tyrell", "tyrell.co"),
    ("Massive Dynamic", "massivedynamic.com"), ("Soylent", "soylent.co"),
    ("Umbrella Ventures", "umbrella.vc"), ("Wonka Labs", "wonkalabs.io"),
)  # fmt: skip
FREE_MAIL = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "hotmail.com")
JOB_TITLES = (
    "Founder & CEO", "Co-founder", "CTO", "Product Manager", "Software Engineer", "Investor",
    "Partner", "Head of Growth", "Designer", "Data Scientist", "Student", "Marketing Lead",
    "VP Engineering", "Angel Investor", "Community Manager", "Research Scientist",
)  # fmt: skip
UTM_SOURCES = ("twitter", "linkedin", "newsletter", "partner", "telegram")
TICKET_PRICES = (1500, 2500, 4900, 9900, 29900)

# Realistic mixes: invite-heavy events where invited rows dwarf registrations, open events
# mostly approved, and approval-gated upcoming events with a pending queue.
MIX_OPEN = {"approved": 0.66, "invited": 0.14, "declined": 0.05, "pending_approval": 0.05,
            "waitlist": 0.07, "session": 0.03}  # fmt: skip
MIX_INVITE_HEAVY = {"invited": 0.64, "approved": 0.26, "declined": 0.04,
                    "pending_approval": 0.03, "waitlist": 0.02, "session": 0.01}  # fmt: skip
MIX_GATED = {"pending_approval": 0.34, "approved": 0.36, "invited": 0.14, "waitlist": 0.09,
             "declined": 0.05, "session": 0.02}  # fmt: skip

_B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ALNUM = bytes.maketrans(b"+/", b"Xz")


def new_id(rng: random.Random, prefix: str, length: int = 14) -> str:
    """A Luma-looking id (`evt-…`, `gst-…`) drawn from the seeded generator.

    Base64 of random bytes with the two symbols mapped to letters: several times faster than
    drawing characters one by one, which matters at 50,000 guests.
    """
    raw = base64.b64encode(rng.randbytes(length * 3 // 4 + 1)).translate(_ALNUM)
    return f"{prefix}-{raw[:length].decode()}"


def new_api_key(rng: random.Random) -> str:
    # Keeps Luma's `secret-` prefix so the project's log redaction treats it like a real key.
    return new_id(rng, "secret-sim", 24)


def status_counts(mix: Mapping[str, float], total: int) -> dict[str, int]:
    """Exact per-status counts for `total` guests: shares, or counts that already add up."""
    unknown = set(mix) - set(APPROVAL_STATUSES)
    if unknown:
        raise ApiError(400, f"Unknown approval_status in mix: {sorted(unknown)}")
    if all(isinstance(v, int) for v in mix.values()) and sum(mix.values()) == total:
        return {status: int(count) for status, count in mix.items()}
    weight = sum(mix.values())
    if weight <= 0:
        raise ApiError(400, "status_mix needs a positive share")
    exact = {status: total * share / weight for status, share in mix.items()}
    counts = {status: int(value) for status, value in exact.items()}
    # Largest remainder, so the counts always sum to exactly `total`.
    by_remainder = sorted(exact, key=lambda s: exact[s] - counts[s], reverse=True)
    for status in by_remainder[: total - sum(counts.values())]:
        counts[status] += 1
    return counts


def find_city(name: str | None, rng: random.Random) -> City:
    if name is None:
        return rng.choice(CITIES)
    city = CITY_BY_NAME.get(name.casefold())
    if city is None:
        raise ApiError(400, f"Unknown city {name!r}; known: {[c.name for c in CITIES]}")
    return city


def new_calendar(rng: random.Random, index: int, name: str | None, now: float) -> Calendar:
    """A calendar with its own key and the admin its key belongs to (for get-self)."""
    if name is None:
        lap, slot = divmod(index, len(CALENDAR_NAMES))
        name = CALENDAR_NAMES[slot] if lap == 0 else f"{CALENDAR_NAMES[slot]} {lap + 1}"
    owner = new_owner(rng, name, now)  # drawn first: seeded ids stay what they were
    return Calendar(id=new_id(rng, "cal"), name=name, api_key=new_api_key(rng), owner=owner)


def new_organization(rng: random.Random, name: str, now: float) -> Organization:
    """An organization with its own key and owner; its calendars are added to it after."""
    owner = new_owner(rng, name, now)
    return Organization(id=new_id(rng, "org"), name=name, api_key=new_api_key(rng), owner=owner)


def new_owner(rng: random.Random, name: str, now: float) -> Person:
    """The admin a key belongs to (get-self), at a domain named after the calendar."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    domain = "".join(ch for ch in name.lower() if ch.isalnum()) + ".com"
    return Person(
        id=new_id(rng, "usr"),
        email=f"{first.lower()}@{domain}",
        first_name=first,
        last_name=last,
        created_at=now - 400 * DAY,
        company=name,
        job_title="Community Lead",
        linkedin_url=None,
    )


def new_person(rng: random.Random, calendar: Calendar, at: float) -> Person:
    """A new contact with an email unique within the calendar."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    first_l, last_l = first.lower(), last.lower().translate(_ASCII)
    company: str | None
    if rng.random() < 0.55:
        company, domain = rng.choice(COMPANIES)
        local = f"{first_l}.{last_l}"
    else:
        company = rng.choice((*(c for c, _ in COMPANIES[:6]), "Stealth startup", "Freelance", None))
        domain = rng.choice(FREE_MAIL)
        local = rng.choice((f"{first_l}{last_l}", f"{first_l}.{last_l}", f"{first_l[0]}{last_l}"))
    email = f"{local}@{domain}"
    while email in calendar.people_by_email:
        email = f"{local}{rng.randint(2, 9999)}@{domain}"
    linkedin = None
    if rng.random() < 0.7:
        linkedin = f"https://www.linkedin.com/in/{first_l}-{last_l}-{rng.getrandbits(24):06x}"
    person = Person(
        id=new_id(rng, "usr"),
        email=email,
        first_name=first,
        last_name=last,
        created_at=at,
        company=company,
        job_title=rng.choice(JOB_TITLES) if rng.random() < 0.85 else None,
        linkedin_url=linkedin,
    )
    calendar.add_person(person)
    return person


def local_time(day: float, hour: int, tz: str) -> float:
    """Epoch seconds of `hour`:00 local time on the day containing `day` in `tz`."""
    zone = ZoneInfo(tz)
    date = datetime.fromtimestamp(day, zone)
    return date.replace(hour=hour, minute=0, second=0, microsecond=0).timestamp()


def new_event(
    rng: random.Random,
    calendar: Calendar,
    *,
    now: float,
    name: str | None,
    city: City,
    start_at: float,
    duration_hours: float,
) -> Event:
    year = datetime.fromtimestamp(start_at, UTC).year
    name = name or rng.choice(EVENT_NAMES).format(city=city.name, year=year)
    created_at = min(start_at, now) - rng.uniform(14, 60) * DAY
    tags = [Tag(id=new_id(rng, "tag"), name=n) for n in rng.sample(TAG_NAMES, rng.randint(0, 2))]
    return Event(
        id=new_id(rng, "evt"),
        calendar_id=calendar.id,
        host_user_id=calendar.owner.id,
        name=name,
        description=f"{name} in {city.name}, hosted by {calendar.name}.",
        city=city,
        start_at=start_at,
        end_at=start_at + duration_hours * 3600,
        created_at=created_at,
        updated_at=created_at,
        slug="".join(rng.choices(_B62, k=8)),
        visibility=rng.choice(("public", "public", "public", "members-only", "private")),
        tags=tags,
        question_ids=(new_id(rng, "q", 8), new_id(rng, "q", 8), new_id(rng, "q", 8)),
    )


def fill_guests(
    rng: random.Random,
    calendar: Calendar,
    event: Event,
    *,
    now: float,
    total: int,
    status_mix: Mapping[str, float],
    paid_share: float,
    checked_in_share: float,
    repeat_share: float,
) -> None:
    """Add `total` guests with exactly the counts `status_mix` asks for."""
    counts = status_counts(status_mix, total)
    statuses = [status for status, count in counts.items() for _ in range(count)]
    rng.shuffle(statuses)
    known = [p for p in calendar.people if p.email not in event.by_email]
    people = rng.sample(known, min(int(total * repeat_share), len(known)))
    reg_start = event.created_at
    reg_span = max(min(event.start_at, now) - reg_start, 3600.0)
    while len(people) < total:
        people.append(new_person(rng, calendar, reg_start + rng.random() * reg_span))
    rng.shuffle(people)

    past = event.start_at < now
    price = rng.choice(TICKET_PRICES)
    paid_type, free_type = new_id(rng, "ett"), new_id(rng, "ett")
    currency = event.city.currency
    rand = rng.random
    for person, status in zip(people, statuses, strict=True):
        at = reg_start + rand() * reg_span
        invited_at = registered_at = checked_in_at = ticket = None
        if status == "invited":
            invited_at = at
        else:
            registered_at = at
            if rand() < 0.2:
                invited_at = at - rand() * (at - reg_start)
            if rand() < paid_share:
                ticket = Ticket(new_id(rng, "tkt"), paid_type, "General Admission", price, currency)
            else:
                ticket = Ticket(new_id(rng, "tkt"), free_type, "Community", 0, currency)
            if past and status == "approved" and rand() < checked_in_share:
                checked_in_at = event.start_at + rand() * 5400
        guest = Guest(
            id=new_id(rng, "gst"),
            event_id=event.id,
            person=person,
            approval_status=status,
            created_at=invited_at or at,
            updated_at=at,
            registered_at=registered_at,
            invited_at=invited_at,
            checked_in_at=checked_in_at,
            answered=registered_at is not None,
            ticket=ticket,
            utm_source=rng.choice(UTM_SOURCES) if rand() < 0.25 else None,
        )
        event.add_guest(guest)
        calendar.link(guest)


@dataclass(frozen=True, slots=True)
class EventPlan:
    name: str | None
    city: City
    start_at: float
    status_mix: Mapping[str, float]
    paid_share: float
    duration_hours: float


def seeded_event_plan(rng: random.Random, index: int, count: int, now: float) -> EventPlan:
    """Where, when and with which guest mix the index-th seeded event of a calendar happens.

    Events spread from four months ago to three months ahead, a little over half of them past,
    so every calendar has both history (check-ins) and upcoming approvals.
    """
    city = rng.choice(CITIES)
    offset_days = -120 + 210 * (index + 0.5) / max(count, 1) + rng.uniform(-3, 3)
    if offset_days < 0:
        mix = MIX_INVITE_HEAVY if rng.random() < 0.3 else MIX_OPEN
    else:
        mix = MIX_GATED if rng.random() < 0.6 else MIX_INVITE_HEAVY
    conference = rng.random() < 0.15
    start_at = local_time(now + offset_days * DAY, 9 if conference else 18, city.timezone)
    year = datetime.fromtimestamp(start_at, UTC).year
    return EventPlan(
        name=f"Main Conference {year}" if conference else None,
        city=city,
        start_at=start_at,
        status_mix=mix,
        paid_share=0.7 if rng.random() < 0.3 else 0.0,
        duration_hours=9.0 if conference else rng.choice((2.0, 2.5, 3.0)),
    )


def utc_now() -> float:
    return datetime.now(UTC).timestamp()


def as_epoch(value: datetime | float | None, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp()
    return float(value)
