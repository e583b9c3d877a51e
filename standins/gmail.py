"""A stand-in for Google's OAuth 2.0 server and the Gmail API, in one local HTTP app.

It follows the published contracts the product uses (`mailer.gmail`): the consent endpoint
`/o/oauth2/v2/auth` (the person consents at once and is sent back with a code, or refuses),
the token endpoint `/token` (authorization_code with PKCE, refresh_token), `/revoke`, and
Gmail's `POST /gmail/v1/users/me/messages/send` with `{"raw": base64url(RFC 2822)}`. Access
tokens are checked on every send and expire (after `access_ttl` seconds or `access_uses`
sends), so refreshing is exercised; a daily quota answers as Gmail does once it is spent (429
"User-rate limit exceeded. Retry after <time> (Mail sending)") for `day_seconds` from then.
Every accepted message is kept, parsed, in `messages`.
"""

from __future__ import annotations

import base64
import email
import hashlib
import json
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import default
from email.utils import parseaddr
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse

from core.http_server import serving

GMAIL_SEND = "https://www.googleapis.com/auth/gmail.send"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _google_error(status: int, reason: str, message: str) -> JSONResponse:
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"domain": "global", "reason": reason, "message": message}],
        }
    }
    return JSONResponse(body, status_code=status)


def _oauth_error(error: str, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": error}, status_code=status)


@dataclass
class Grant:
    """One consent: the refresh token and what it allows."""

    account: str
    scopes: set[str]
    refresh_token: str
    revoked: bool = False


@dataclass
class _Code:
    grant: Grant
    redirect_uri: str
    challenge: str
    used: bool = False


@dataclass
class _Access:
    grant: Grant
    expires: float
    uses_left: int | None


@dataclass
class SentMessage:
    account: str  # whose Gmail sent it
    to: str
    message: EmailMessage


@dataclass
class GoogleStandin:
    """The accounts' side of Google; tests change the fields to script what happens."""

    client_id: str = "lumabot-test.apps.googleusercontent.com"
    client_secret: str = "GOCSPX-standin-secret"
    account: str = "organizer@gmail.com"  # who signs in on the consent page
    deny: bool = False  # the person presses Cancel on the consent page
    granted: set[str] | None = None  # scopes the person leaves ticked (None: all asked)
    access_ttl: float = 3600.0  # expires_in of access tokens, seconds
    access_uses: int | None = None  # an access token expires after this many sends
    daily_quota: int | None = None  # sends a "day" per account
    day_seconds: float = 86_400.0
    script: dict[str, list[int]] = field(default_factory=dict)  # recipient -> statuses, once each
    messages: list[SentMessage] = field(default_factory=list)
    token_requests: Counter[str] = field(default_factory=Counter)  # by grant_type
    grants: dict[str, Grant] = field(default_factory=dict)  # by refresh token
    _codes: dict[str, _Code] = field(default_factory=dict)
    _access: dict[str, _Access] = field(default_factory=dict)
    # account -> (sent today, when the day that ran out ends)
    _day: dict[str, tuple[int, float | None]] = field(default_factory=dict)

    def grant_for(self, account: str, scopes: set[str] | None = None) -> Grant:
        """A consent made earlier (a test's shortcut past the consent page)."""
        grant = Grant(account, scopes or {"openid", "email", GMAIL_SEND}, secrets.token_hex(24))
        self.grants[grant.refresh_token] = grant
        return grant

    def expire_access_tokens(self) -> None:
        self._access.clear()

    def to(self, address: str) -> list[SentMessage]:
        return [sent for sent in self.messages if sent.to == address]

    def _client_ok(self, form: dict[str, Any], request: Request) -> bool:
        client_id, secret = form.get("client_id"), form.get("client_secret")
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            client_id, _, secret = base64.b64decode(header[6:]).decode().partition(":")
        return client_id == self.client_id and secret == self.client_secret

    def _id_token(self, account: str) -> str:
        now = int(time.time())
        claims = {
            "iss": "https://accounts.google.com",
            "aud": self.client_id,
            "sub": hashlib.sha256(account.encode()).hexdigest()[:21],
            "email": account,
            "email_verified": True,
            "iat": now,
            "exp": now + 3600,
        }
        header = _b64(json.dumps({"alg": "RS256", "kid": "standin"}).encode())
        return f"{header}.{_b64(json.dumps(claims).encode())}.{_b64(b'not-checked')}"

    def _new_access(self, grant: Grant) -> dict[str, Any]:
        token = "ya29." + secrets.token_urlsafe(32)
        self._access[token] = _Access(grant, time.monotonic() + self.access_ttl, self.access_uses)
        return {
            "access_token": token,
            "expires_in": int(self.access_ttl),
            "token_type": "Bearer",
            "scope": " ".join(sorted(grant.scopes)),
        }

    def _quota_spent(self, account: str) -> datetime | None:
        """When the account may send again, if its quota is spent; counts the send otherwise.
        The "day" starts when the quota is found spent, so a slow test still meets the limit."""
        now = time.monotonic()
        sent, blocked_until = self._day.get(account, (0, None))
        if blocked_until is not None and now >= blocked_until:
            sent, blocked_until = 0, None
        if self.daily_quota is not None and sent >= self.daily_quota:
            blocked_until = blocked_until or now + self.day_seconds
            self._day[account] = (sent, blocked_until)
            return datetime.now(UTC) + timedelta(seconds=blocked_until - now)
        self._day[account] = (sent + 1, blocked_until)
        return None

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/o/oauth2/v2/auth")
        async def consent(request: Request) -> Any:
            query = request.query_params
            if query.get("client_id") != self.client_id:
                return PlainTextResponse("Error 401: invalid_client", status_code=401)
            redirect_uri = query.get("redirect_uri", "")
            scopes = set(query.get("scope", "").split())
            if query.get("response_type") != "code" or not scopes or not redirect_uri:
                return PlainTextResponse("Error 400: invalid_request", status_code=400)
            back = {"state": query.get("state", "")}
            if self.deny:
                back["error"] = "access_denied"
            else:
                grant = Grant(
                    self.account,
                    scopes if self.granted is None else scopes & self.granted,
                    secrets.token_hex(24),
                )
                code = "4/" + secrets.token_urlsafe(24)
                self._codes[code] = _Code(grant, redirect_uri, query.get("code_challenge", ""))
                back["code"] = code
            return RedirectResponse(f"{redirect_uri}?{urlencode(back)}", status_code=302)

        @app.post("/token")
        async def token(request: Request) -> JSONResponse:
            form = dict(await request.form())
            self.token_requests[str(form.get("grant_type"))] += 1
            if not self._client_ok(form, request):
                return _oauth_error("invalid_client", 401)
            if form.get("grant_type") == "authorization_code":
                code = self._codes.get(str(form.get("code")))
                if code is None or code.used or code.redirect_uri != form.get("redirect_uri"):
                    return _oauth_error("invalid_grant")
                verifier = str(form.get("code_verifier", ""))
                if code.challenge and _b64(hashlib.sha256(verifier.encode()).digest()) != (
                    code.challenge
                ):
                    return _oauth_error("invalid_grant")
                code.used = True
                grant = code.grant
                self.grants[grant.refresh_token] = grant
                answer = self._new_access(grant) | {"refresh_token": grant.refresh_token}
                if "openid" in grant.scopes:
                    answer["id_token"] = self._id_token(grant.account)
                return JSONResponse(answer)
            if form.get("grant_type") == "refresh_token":
                found = self.grants.get(str(form.get("refresh_token")))
                if found is None or found.revoked:
                    return _oauth_error("invalid_grant")
                return JSONResponse(self._new_access(found))
            return _oauth_error("unsupported_grant_type")

        @app.post("/revoke")
        async def revoke(request: Request) -> JSONResponse:
            value = str((await request.form()).get("token", ""))
            grant = self.grants.get(value) or getattr(self._access.get(value), "grant", None)
            if grant is None:
                return _oauth_error("invalid_token")
            grant.revoked = True  # the whole consent goes, access tokens with it
            return JSONResponse({})

        @app.post("/gmail/v1/users/me/messages/send")
        async def send(request: Request) -> JSONResponse:
            header = request.headers.get("authorization", "")
            access = self._access.get(header.removeprefix("Bearer "))
            if (
                access is None
                or access.grant.revoked
                or access.expires < time.monotonic()
                or access.uses_left == 0
            ):
                return _google_error(401, "authError", "Invalid Credentials")
            if GMAIL_SEND not in access.grant.scopes:
                return _google_error(403, "insufficientPermissions", "Insufficient Permission")
            if access.uses_left is not None:
                access.uses_left -= 1
            raw = str((await request.json()).get("raw", ""))
            try:
                data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
                message = email.message_from_bytes(data, policy=default)
            except ValueError:
                return _google_error(400, "invalidArgument", "Invalid raw message")
            assert isinstance(message, EmailMessage)
            recipient = parseaddr(str(message["To"] or ""))[1]
            if not recipient:
                return _google_error(400, "invalidArgument", "Recipient address required")
            planned = self.script.get(recipient)
            if planned:
                status = planned.pop(0)
                return _google_error(status, "backendError", f"scripted {status}")
            account = access.grant.account
            resets = self._quota_spent(account)
            if resets is not None:
                stamp = resets.strftime("%Y-%m-%dT%H:%M:%S.") + f"{resets.microsecond // 1000:03d}Z"
                return _google_error(
                    429,
                    "rateLimitExceeded",
                    f"User-rate limit exceeded.  Retry after {stamp} (Mail sending)",
                )
            self.messages.append(SentMessage(account, recipient, message))
            number = f"{len(self.messages):016x}"
            return JSONResponse({"id": number, "threadId": number, "labelIds": ["SENT"]})

        @app.get("/gmail/v1/users/me/profile")
        async def profile(request: Request) -> JSONResponse:
            # Needs a read scope, which gmail.send alone is not (why the address comes from
            # the ID token).
            return _google_error(403, "insufficientPermissions", "Insufficient Permission")

        return app


@asynccontextmanager
async def running_google_standin(standin: GoogleStandin) -> AsyncIterator[str]:
    """Serve the stand-in on a free local port; yields its base URL."""
    async with serving(standin.app()) as url:
        yield url
