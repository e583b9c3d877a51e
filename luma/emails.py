"""Email addresses: validation before we call Luma, and identity keys for profiles.

`normalize_email` is what we send and store; `identity_key` only groups one person's
addresses across events (`Jane.Doe+vip@gmail.com` and `janedoe@googlemail.com` are the same
inbox) and is never sent anywhere.
"""

from __future__ import annotations

from email_validator import EmailNotValidError, validate_email

from luma.errors import InvalidEmailError

_GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
# Mailbox providers: their domain says nothing about where a person works.
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "yahoo.com",
        "outlook.com",
        "hotmail.com",
        "icloud.com",
        "proton.me",
        "protonmail.com",
        "aol.com",
        "live.com",
        "me.com",
        "gmx.de",
        "mail.ru",
    }
)


def normalize_email(raw: str) -> str:
    """The address in canonical form (trimmed, domain lowercased), or InvalidEmailError.

    Deliverability (DNS) is not checked: it is slow, needs the network, and Luma decides that.
    """
    text = (raw or "").strip()
    if not text:
        raise InvalidEmailError(text, "it is empty")
    try:
        result = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        reason = str(exc).rstrip(".")
        raise InvalidEmailError(text, reason[:1].lower() + reason[1:]) from None
    return result.normalized


def identity_key(email: str) -> str:
    """One key per inbox: lowercase, no `+tag`, and Gmail's ignored dots removed."""
    local, _, domain = email.strip().lower().rpartition("@")
    if not local:
        return email.strip().lower()
    local = local.split("+", 1)[0] or local
    if domain in _GMAIL_DOMAINS:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def email_domain(email: str) -> str:
    """The lowercased part after the last `@` ("" when there is none)."""
    _, at, domain = email.strip().lower().rpartition("@")
    return domain if at else ""
