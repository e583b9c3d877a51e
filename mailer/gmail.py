"""An org's own Gmail as the sender: Google's OAuth 2.0 web-server flow and the Gmail API.

Connecting (the portal, `services.gmail`) is the authorization-code flow with PKCE: the
browser goes to Google's consent page, comes back to `<PUBLIC_URL>/web/gmail/callback` with a
code, and the code is traded (with our client secret) for a refresh token, which is all we
keep, encrypted. Scopes: `gmail.send` is the only Gmail access asked for. The address to send
from comes from the ID token, for which `openid email` are added: `users.getProfile` would
need gmail.readonly or gmail.metadata (reading the mailbox), and an address typed by the
person could differ from the account Gmail actually sends as. The ID token arrives straight
from Google's token endpoint over TLS, authenticated with our client secret, so (as Google's
OpenID Connect guide says) its signature need not be checked; its issuer, audience and
`email_verified` are.

Sending (`GmailMailer`) is `users.messages.send` with the same RFC 5322 message the SMTP
sender builds (`mailer.smtp.build_message`: our Message-ID, List-Unsubscribe headers). An
access token lives for one batch in memory; a 401 (expired or revoked) refreshes it once and
sends again, which is safe because Gmail took nothing. Gmail's daily sending limit (429
"User-rate limit exceeded ... (Mail sending)" with a time to retry, or `dailyLimitExceeded`)
raises `MailDailyLimit`: the campaign stops for the day instead of retrying. Short rate limits
(`rateLimitExceeded`, `userRateLimitExceeded` without the sending note) and 5xx are
`MailUnavailable`, retried by Temporal.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from core.logs import secrets as log_secrets
from core.settings import Settings
from mailer import (
    MailConfigError,
    MailDailyLimit,
    MailRejected,
    MailUnavailable,
    OutgoingMail,
)
from mailer.smtp import build_message
from store import gmail_senders
from store.crypto import KeyBox
from store.models import utcnow

GMAIL_SEND_SCOPE = "https://www.googleapis.com/auth/gmail.send"
SCOPES = ("openid", "email", GMAIL_SEND_SCOPE)
ISSUERS = {"accounts.google.com", "https://accounts.google.com"}
TIMEOUT_SECONDS = 20.0
EARLY_REFRESH = timedelta(seconds=60)  # an access token this close to expiry is renewed first
SEND_PATH = "/gmail/v1/users/me/messages/send"
_RETRY_AFTER = re.compile(r"Retry after (\d{4}-\d\d-\d\dT[\d:.]+Z)")
# Gmail's short-term rate limits: back off and retry (not the daily sending limit).
RATE_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
RECONNECT = "reconnect it on the portal's Send from Gmail page"


class GoogleRefused(Exception):
    """Connecting failed: Google refused the code, or did not grant what sending needs."""


@dataclass(frozen=True)
class GoogleClient:
    """Our OAuth client at Google and where Google's endpoints are (stand-ins in tests)."""

    client_id: str
    client_secret: str = field(repr=False)
    oauth_url: str
    token_url: str
    revoke_url: str
    api_url: str
    limit_wait: timedelta  # after the daily limit, when Gmail names no time to retry
    timeout: float = TIMEOUT_SECONDS

    @classmethod
    def from_settings(cls, settings: Settings) -> GoogleClient | None:
        """The configured client, or None when GOOGLE_CLIENT_ID is unset (Gmail is off)."""
        if settings.google_client_id is None or settings.google_client_secret is None:
            return None
        return cls(
            client_id=settings.google_client_id,
            client_secret=settings.google_client_secret.get_secret_value(),
            oauth_url=settings.google_oauth_url,
            token_url=settings.google_token_url,
            revoke_url=settings.google_revoke_url,
            api_url=settings.gmail_api_url.rstrip("/"),
            limit_wait=timedelta(minutes=settings.gmail_limit_wait_minutes),
        )

    @property
    def consent_origin(self) -> str:
        """The origin of the consent page (the portal's form posts are sent on to it)."""
        parts = urlsplit(self.oauth_url)
        return f"{parts.scheme}://{parts.netloc}"

    def http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.timeout)


@dataclass(frozen=True)
class Pkce:
    """RFC 7636: the verifier stays with us, its S256 challenge goes to the consent page."""

    verifier: str

    @classmethod
    def new(cls) -> Pkce:
        return cls(secrets.token_urlsafe(48))

    @property
    def challenge(self) -> str:
        digest = hashlib.sha256(self.verifier.encode()).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorization_url(client: GoogleClient, *, state: str, redirect_uri: str, pkce: Pkce) -> str:
    """Google's consent page for sending as the person; `prompt=consent` with offline
    access makes Google return a refresh token even to someone who connected before."""
    query = {
        "client_id": client.client_id,
        "redirect_uri": redirect_uri,
        "response_type": "code",
        "scope": " ".join(SCOPES),
        "access_type": "offline",
        "prompt": "consent",
        "state": state,
        "code_challenge": pkce.challenge,
        "code_challenge_method": "S256",
    }
    return f"{client.oauth_url}?{urlencode(query)}"


@dataclass(frozen=True)
class Connected:
    """What a successful connect yields: the account's address and its refresh token."""

    address: str
    refresh_token: str = field(repr=False)


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            return str(error.get("message", ""))[:200]
        return f"{error}: {body.get('error_description', '')}"[:200]
    return response.text[:200]


def _id_token_claims(id_token: str) -> dict[str, Any]:
    try:
        payload = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        raise GoogleRefused("Google's answer had no readable ID token.") from None
    if not isinstance(claims, dict):
        raise GoogleRefused("Google's answer had no readable ID token.")
    return claims


def address_of(client: GoogleClient, id_token: str) -> str:
    """The verified address in an ID token issued to us."""
    claims = _id_token_claims(id_token)
    if claims.get("iss") not in ISSUERS or claims.get("aud") != client.client_id:
        raise GoogleRefused("Google's ID token was not issued to this app.")
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email or claims.get("email_verified") is not True:
        raise GoogleRefused("Google did not give a verified address for this account.")
    return email


async def exchange_code(
    http: httpx.AsyncClient, client: GoogleClient, *, code: str, redirect_uri: str, pkce: Pkce
) -> Connected:
    """Trade the callback's code for tokens (grant_type=authorization_code)."""
    try:
        response = await http.post(
            client.token_url,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "client_id": client.client_id,
                "client_secret": client.client_secret,
                "code_verifier": pkce.verifier,
            },
        )
    except httpx.HTTPError as exc:
        raise GoogleRefused(f"Google's token endpoint did not answer: {exc}") from None
    if response.status_code != 200:
        raise GoogleRefused(f"Google refused the code ({_error_text(response)}).")
    tokens = response.json()
    granted = set(str(tokens.get("scope", "")).split())
    if GMAIL_SEND_SCOPE not in granted:
        raise GoogleRefused(
            "Google did not grant sending email: tick “Send email on your behalf” on Google's "
            "consent page and connect again."
        )
    refresh_token = tokens.get("refresh_token")
    if not isinstance(refresh_token, str) or not refresh_token:
        raise GoogleRefused("Google sent no refresh token; connect again.")
    log_secrets.add(refresh_token, tokens.get("access_token"))
    return Connected(address_of(client, str(tokens.get("id_token", ""))), refresh_token)


async def revoke(http: httpx.AsyncClient, client: GoogleClient, token: str) -> bool:
    """Withdraw our access at Google (disconnect); False when Google could not be told."""
    try:
        response = await http.post(client.revoke_url, data={"token": token})
    except httpx.HTTPError:
        return False
    return response.status_code == 200


@dataclass
class AccessToken:
    value: str = field(repr=False)
    expires_at: datetime


async def refresh_access(
    http: httpx.AsyncClient, client: GoogleClient, refresh_token: str
) -> AccessToken:
    """A fresh access token (grant_type=refresh_token); a revoked grant is a config error."""
    try:
        response = await http.post(
            client.token_url,
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": client.client_id,
                "client_secret": client.client_secret,
            },
        )
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise MailUnavailable(f"cannot reach Google: {exc}") from None
    if response.status_code == 200:
        tokens = response.json()
        value = str(tokens["access_token"])
        log_secrets.add(value)
        lifetime = timedelta(seconds=float(tokens.get("expires_in", 3600)))
        return AccessToken(value, utcnow() + lifetime)
    detail = _error_text(response)
    if response.status_code == 429 or response.status_code >= 500:
        raise MailUnavailable(f"Google's token endpoint answered {response.status_code}")
    raise MailConfigError(f"Google refused the Gmail connection ({detail}); {RECONNECT}")


def _retry_after(message: str) -> datetime | None:
    found = _RETRY_AFTER.search(message)
    if not found:
        return None
    try:
        return datetime.fromisoformat(found.group(1).replace("Z", "+00:00"))
    except ValueError:
        return None


def classify(response: httpx.Response, limit_wait: timedelta) -> None:
    """Raise the mailer error a Gmail answer means; return when Gmail took the message."""
    status = response.status_code
    if status == 200:
        return
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        error = {}
    error = error if isinstance(error, dict) else {}
    message = str(error.get("message", response.text))
    reasons = {str(e.get("reason")) for e in error.get("errors", []) if isinstance(e, dict)}
    detail = f"Gmail answered {status}: {message[:200]}"
    if status in (403, 429) and (
        "dailyLimitExceeded" in reasons or "mail sending" in message.lower()
    ):
        resume_at = _retry_after(message) or utcnow() + limit_wait
        raise MailDailyLimit(detail, max(resume_at, utcnow()), sender="Gmail")
    if status == 429 or status >= 500 or reasons & RATE_REASONS:
        raise MailUnavailable(detail)
    if status in (401, 403):
        raise MailConfigError(f"{detail}; {RECONNECT}")
    raise MailRejected(detail)


class GmailMailer:
    """Sends as one org's connected account; `sender` is its address. The HTTP client is
    the worker's (`GmailSenders`), so closing a GmailMailer closes nothing."""

    def __init__(
        self, http: httpx.AsyncClient, client: GoogleClient, address: str, refresh_token: str
    ) -> None:
        self.sender = address
        self._http = http
        self._client = client
        self._refresh_token = refresh_token
        self._access: AccessToken | None = None

    async def _token(self, *, renew: bool) -> str:
        if renew or self._access is None or self._access.expires_at - EARLY_REFRESH < utcnow():
            self._access = await refresh_access(self._http, self._client, self._refresh_token)
        return self._access.value

    async def send(self, mail: OutgoingMail) -> None:
        try:
            data = build_message(mail, self.sender).as_bytes()
        except (ValueError, TypeError) as exc:  # a header the email package refuses
            raise MailRejected(f"cannot build the message: {exc}") from None
        raw = base64.urlsafe_b64encode(data).decode()
        for renew in (False, True):
            token = await self._token(renew=renew)
            try:
                response = await self._http.post(
                    self._client.api_url + SEND_PATH,
                    json={"raw": raw},
                    headers={"Authorization": f"Bearer {token}"},
                )
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                raise MailUnavailable(f"cannot reach Gmail: {exc}") from None
            # 401: the token expired or was revoked; Gmail took nothing, so renew and resend.
            if response.status_code != 401:
                break
        classify(response, self._client.limit_wait)

    async def aclose(self) -> None:
        """Nothing of its own to close."""


class GmailSenders:
    """A worker's way to each org's connected Gmail: loads and decrypts the refresh token by
    org id (it never enters a workflow's input or history) and shares one HTTP client."""

    def __init__(self, client: GoogleClient, keybox: KeyBox) -> None:
        self.client = client
        self.keybox = keybox
        self._http = client.http()

    @classmethod
    def from_settings(cls, settings: Settings) -> GmailSenders | None:
        client = GoogleClient.from_settings(settings)
        if client is None:
            return None
        return cls(client, KeyBox(settings.resolved_encryption_keys()))

    async def mailer_for(self, session: AsyncSession, org_id: int) -> GmailMailer | None:
        """The org's Gmail sender, or None when it has not connected one."""
        account = await gmail_senders.get(session, org_id=org_id)
        if account is None:
            return None
        token = gmail_senders.refresh_token(account, self.keybox)
        return GmailMailer(self._http, self.client, account.address, token)

    async def aclose(self) -> None:
        await self._http.aclose()
