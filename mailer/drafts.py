"""The follow-up's default wording per audience, and an organizer's own text as a draft.

The wording is a template filled in by `mailer.templates` (`{{ first_name }}`, `{{ event_name }}`
and the other placeholders). `render` fills in the older form, `{first_name}` and `{event}`
replaced literally, for campaigns started before templates (`FollowupInput.syntax == "plain"`).
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
        "Thank you for coming to {{ event_name }}",
        "Hi {{ first_name }},\n\nThank you for joining us at {{ event_name }}! "
        "We hope you enjoyed it.\nWe would love to see you at the next one.\n\nSee you soon!",
    ),
    "no-shows": Draft(
        "We missed you at {{ event_name }}",
        "Hi {{ first_name }},\n\nWe missed you at {{ event_name }}. We hope everything is fine.\n"
        "We will let you know about the next one, and hope to see you there.\n\nBest wishes!",
    ),
    "all": Draft(
        "After {{ event_name }}",
        "Hi {{ first_name }},\n\nThank you for registering for {{ event_name }}.\n"
        "We will let you know about our next events.\n\nBest wishes!",
    ),
}


def first_name(full_name: str) -> str:
    words = full_name.split()
    return words[0] if words else FALLBACK_NAME


def render(template: str, *, name: str, event: str) -> str:
    """The pre-template form: `{first_name}` and `{event}` replaced literally."""
    return template.replace("{first_name}", first_name(name)).replace("{event}", event)


def from_text(text: str, fallback_subject: str) -> Draft:
    """An organizer's message: a first line `Subject: …` sets the subject, the rest is the body."""
    first, _, rest = text.strip().partition("\n")
    if first.lower().startswith(SUBJECT_PREFIX) and first[len(SUBJECT_PREFIX) :].strip():
        return Draft(first[len(SUBJECT_PREFIX) :].strip(), rest.strip())
    return Draft(fallback_subject, text.strip())


def with_footer(body: str, unsubscribe_url: str) -> str:
    return f"{body}\n\n--\nTo stop receiving these emails: {unsubscribe_url}"
