"""Follow-up wording as sandboxed Jinja2 templates: checking one, and filling it in.

A template (subject or body) may name exactly five placeholders, written `{{ first_name }}`:
first_name, event_name, event_date (in the event's time zone), city and link (the event's
Luma page). It is rendered by Jinja2's immutable sandbox, so an organizer's text reaches
nothing but those values (`{{ ''.__class__ }}` fails), with autoescape off because the email
is plain text. A name that is not a placeholder is refused when the text is saved; a
placeholder the event has no value for (an online event has no city) fails when the text is
filled in, which the product does before anything is sent, never rendering a blank. Inside
`{% if city %}…{% endif %}` a missing value is simply false.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError, meta, nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment

from mailer.drafts import Draft, first_name
from store.models import Event

VARIABLES = ("first_name", "event_name", "event_date", "city", "link")
EXPLAINED = {
    "first_name": "the guest's first name",
    "event_name": "the event's name",
    "event_date": "the event's date",
    "city": "the event's city",
    "link": "the event's Luma page",
}
# What a template may do besides printing text and placeholders: `{% if %}`, comparisons and
# a few harmless filters. No attribute or item access, calls, loops, assignments or imports:
# the sandbox would stop an escape anyway, but refusing it on save says so in plain words.
ALLOWED_NODES = (
    nodes.Template,
    nodes.Output,
    nodes.TemplateData,
    nodes.Name,
    nodes.Const,
    nodes.If,
    nodes.CondExpr,
    nodes.Not,
    nodes.And,
    nodes.Or,
    nodes.Compare,
    nodes.Operand,
    nodes.Concat,
    nodes.Filter,
    nodes.Test,
)
ALLOWED_FILTERS = {"upper", "lower", "title", "capitalize", "trim"}
ALLOWED_TESTS = {"defined", "undefined"}
LEGACY = re.compile(r"(?<!\{)\{\s*(first_name|event|event_name|event_date|city|link)\s*\}(?!\})")


class TemplateProblem(ValueError):
    """A template that cannot be saved or filled in; the message is plain text for a person."""


class _Missing(StrictUndefined):
    """A placeholder without a value: printing it is an error, testing it is just false."""

    def __bool__(self) -> bool:  # type: ignore[override]  # StrictUndefined's always raises
        return False


_ENV = ImmutableSandboxedEnvironment(
    undefined=_Missing, autoescape=False, keep_trailing_newline=True
)
_ENV.globals.clear()  # no range, cycler, namespace...: the placeholders are all there is


@dataclass(frozen=True)
class EventFacts:
    """The event's side of the placeholders; None where the event has no such value."""

    event_name: str
    event_date: str | None = None
    city: str | None = None
    link: str | None = None

    @classmethod
    def of(cls, event: Event, *, name: str | None = None) -> EventFacts:
        """The cached event's values (`name`: the name the campaign was started with)."""
        return cls(
            name or event.name,
            event_date(event.start_at, event.timezone),
            event.city or None,
            event.url or None,
        )


def event_date(start_at: datetime | None, timezone: str | None) -> str | None:
    """`Thursday, 3 December 2026`, the day it is where the event takes place."""
    if start_at is None:
        return None
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = start_at.astimezone(zone)
    return f"{local:%A}, {local.day} {local:%B %Y}"


def _parse(text: str, part: str) -> nodes.Template:
    try:
        return _ENV.parse(text)
    except TemplateSyntaxError as exc:
        reason = str(exc.message).rstrip(".")
        raise TemplateProblem(
            f"The {part} is not a valid template (line {exc.lineno}): {reason}."
        ) from None


def check(text: str, *, part: str = "text") -> None:
    """Refuse a template that could not be filled in for any guest of any event."""
    legacy = LEGACY.search(text)
    if legacy:
        raise TemplateProblem(
            f"The {part} has {legacy.group(0)}: write placeholders with two braces, like "
            "{{ first_name }}."
        )
    tree = _parse(text, part)
    unknown = sorted(meta.find_undeclared_variables(tree) - set(VARIABLES))
    if unknown:
        raise TemplateProblem(
            f"The {part} uses {{{{ {unknown[0]} }}}}, which is not a placeholder; use "
            + ", ".join(f"{{{{ {name} }}}}" for name in VARIABLES)
            + "."
        )
    for node in tree.find_all(nodes.Node):
        if not isinstance(node, ALLOWED_NODES):
            raise TemplateProblem(
                f"The {part} does more than fill in placeholders ({_what(node)}); only "
                "{{ placeholder }}, {% if %} and the filters "
                + ", ".join(sorted(ALLOWED_FILTERS))
                + " are allowed."
            )
        if isinstance(node, nodes.Filter) and node.name not in ALLOWED_FILTERS:
            raise TemplateProblem(
                f"The {part} uses the filter “{node.name}”, which is not allowed."
            )
        if isinstance(node, nodes.Test) and node.name not in ALLOWED_TESTS:
            raise TemplateProblem(f"The {part} uses the test “{node.name}”; it is not allowed.")


def _what(node: nodes.Node) -> str:
    if isinstance(node, nodes.Getattr):
        return f"“.{node.attr}”"
    if isinstance(node, nodes.Getitem):
        return "“[…]”"
    if isinstance(node, nodes.Call):
        return "a call"
    return f"“{type(node).__name__.lower()}”"


def check_draft(draft: Draft) -> None:
    check(draft.subject, part="subject")
    check(draft.body, part="text")


def values(facts: EventFacts, guest_name: str) -> dict[str, str]:
    """The placeholders' values for one guest; those the event lacks are left out."""
    found = {
        "first_name": first_name(guest_name),
        "event_name": facts.event_name,
        "event_date": facts.event_date,
        "city": facts.city,
        "link": facts.link,
    }
    return {name: value for name, value in found.items() if value is not None}


def render(text: str, context: Mapping[str, str], *, part: str = "text") -> str:
    """Fill in one template; TemplateProblem names a placeholder the event has no value for."""
    tree = _parse(text, part)
    missing = sorted(name for name in meta.find_undeclared_variables(tree) if name not in context)
    try:
        return _ENV.from_string(tree).render(context)
    except TemplateError as exc:
        if missing:
            name = missing[0]
            what = EXPLAINED.get(name, name)
            raise TemplateProblem(
                f"The {part} uses {{{{ {name} }}}}, but there is no value for {what} here."
            ) from None
        raise TemplateProblem(f"The {part} cannot be filled in: {str(exc).rstrip('.')}.") from None


def fill(draft: Draft, facts: EventFacts, guest_name: str) -> Draft:
    """The email one guest gets (before the unsubscribe footer)."""
    context = values(facts, guest_name)
    return Draft(
        " ".join(render(draft.subject, context, part="subject").split()),  # one header line
        render(draft.body, context, part="text"),
    )
