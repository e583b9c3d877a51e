"""The follow-up's default wording per audience, and filling in each guest's name.

Templates are plain text with two placeholders, `{first_name}` and `{event}`, replaced
literally (not with `str.format`), so an organizer's own text may hold any braces.
"""

from __future__ import annotations

from dataclasses import dataclass

AUDIENCES = {
    "attended": "attended",
    "no-shows": "no-shows",
    "noshows": "no-shows",
    "no-show": "no-shows",
    "all": "all",
}
AUDIENCE_LABELS = {
    "attended": "guests who checked in",
    "no-shows": "approved guests who did not come",
    "all": "every approved guest",
}
FALLBACK_NAME = "there"
SUBJECT_PREFIX = "subject:"


@dataclass(frozen=True)
class Draft:
    subject: str
    body: str


DEFAULT_DRAFTS = {
    "attended": Draft(
        "Thank you for coming to {event}",
        "Hi {first_name},\n\nThank you for joining us at {event}! We hope you enjoyed it.\n"
        "We would love to see you at the next one.\n\nSee you soon!",
    ),
    "no-shows": Draft(
        "We missed you at {event}",
        "Hi {first_name},\n\nWe missed you at {event}. We hope everything is fine.\n"
        "We will let you know about the next one, and hope to see you there.\n\nBest wishes!",
    ),
    "all": Draft(
        "After {event}",
        "Hi {first_name},\n\nThank you for registering for {event}.\n"
        "We will let you know about our next events.\n\nBest wishes!",
    ),
}


def first_name(full_name: str) -> str:
    words = full_name.split()
    return words[0] if words else FALLBACK_NAME


def render(template: str, *, name: str, event: str) -> str:
    return template.replace("{first_name}", first_name(name)).replace("{event}", event)


def from_text(text: str, fallback_subject: str) -> Draft:
    """An organizer's message: a first line `Subject: …` sets the subject, the rest is the body."""
    first, _, rest = text.strip().partition("\n")
    if first.lower().startswith(SUBJECT_PREFIX) and first[len(SUBJECT_PREFIX) :].strip():
        return Draft(first[len(SUBJECT_PREFIX) :].strip(), rest.strip())
    return Draft(fallback_subject, text.strip())


def with_footer(body: str, unsubscribe_url: str) -> str:
    return f"{body}\n\n--\nTo stop receiving these emails: {unsubscribe_url}"
