"""The remote codec endpoint, for operators only: `POST /codec/decode` and `/codec/encode`.

Temporal holds every payload encrypted (`core.payload_codec`); the Temporal UI and CLI show
them decrypted by sending them here (the remote codec protocol of temporalio's samples:
`{"payloads": [...]}` in protobuf JSON, the namespace in `X-Namespace`). Decrypted payloads
hold every tenant's guest data, so the endpoint answers only the operator's credential,
OPERATOR_TOKEN, and does not exist (404) without it. The credential comes as
`Authorization: Bearer <token>` (the CLI's `--codec-auth`), or as the password of HTTP Basic
auth, which a browser keeps once the operator has signed in at `GET /codec` and then sends
with the UI's requests (TEMPORAL_CODEC_INCLUDE_CREDENTIALS). CORS admits the Temporal UI's
origin (TEMPORAL_UI_URL) only. No tenant credential (an API token, a portal session) opens it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from google.protobuf import json_format
from pydantic import SecretStr
from temporalio.api.common.v1 import Payload, Payloads

from api.errors import ApiError, error_response
from core.payload_codec import EncryptionCodec, PayloadKeyError
from core.settings import Settings

router = APIRouter(prefix="/codec", include_in_schema=False)

# Basic, so a browser asks for the token (as the password); the CLI sends a bearer token.
CHALLENGE = 'Basic realm="lumabot operator", charset="UTF-8"'
ALLOWED_HEADERS = "authorization,content-type,x-namespace"


def origin_of(url: str) -> str:
    """`scheme://host[:port]` of a URL: what a browser sends as `Origin`."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


@dataclass
class CodecAccess:
    """Who may call the endpoint and which origin may call it from a browser; the codec's
    keys are read on first use."""

    token: SecretStr | None
    ui_origin: str
    keys: Callable[[], Sequence[str]]

    @classmethod
    def from_settings(cls, settings: Settings) -> CodecAccess:
        return cls(
            settings.operator_token,
            origin_of(settings.temporal_ui_url),
            settings.resolved_payload_keys,
        )

    @cached_property
    def codec(self) -> EncryptionCodec:
        return EncryptionCodec(self.keys())

    def authorized(self, header: str) -> bool:
        """The operator's token, as a bearer token or as the Basic password (any user)."""
        if self.token is None:
            return False
        scheme, _, credential = header.partition(" ")
        given = credential.strip()
        if scheme.lower() == "basic":
            try:
                given = base64.b64decode(given, validate=True).decode().partition(":")[2]
            except (binascii.Error, UnicodeDecodeError):
                return False
        elif scheme.lower() != "bearer":
            return False
        # Bytes: compare_digest refuses non-ASCII str, and a header may hold anything.
        return hmac.compare_digest(given.encode(), self.token.get_secret_value().encode())


def _access(request: Request) -> CodecAccess:
    access: CodecAccess = request.app.state.codec
    return access


def _cors(request: Request, response: Response) -> Response:
    """CORS headers for the Temporal UI's origin only (with credentials: the Basic login)."""
    origin = request.headers.get("origin")
    if origin is not None and origin == _access(request).ui_origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers["Access-Control-Allow-Methods"] = "POST"
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
    response.headers["Vary"] = "Origin"
    response.headers["Cache-Control"] = "no-store"  # decrypted guest data
    return response


def _refusal(request: Request) -> Response | None:
    """404 while no operator token is configured; 401 without the operator's token."""
    access = _access(request)
    if access.token is None:
        return _cors(request, error_response(ApiError(404, "Not Found")))
    if not access.authorized(request.headers.get("authorization", "")):
        challenge = {"WWW-Authenticate": CHALLENGE}
        error = ApiError(401, "The codec endpoint needs the operator token.", headers=challenge)
        return _cors(request, error_response(error))
    return None


Transform = Callable[[EncryptionCodec, Sequence[Payload]], Awaitable[list[Payload]]]


async def _apply(request: Request, transform: Transform) -> Response:
    refused = _refusal(request)
    if refused is not None:
        return refused
    try:
        payloads = json_format.Parse(await request.body(), Payloads())
    except (json_format.ParseError, UnicodeDecodeError):
        error = ApiError(400, 'Send {"payloads": [...]} as protobuf JSON.')
        return _cors(request, error_response(error))
    try:
        result = Payloads(payloads=await transform(_access(request).codec, payloads.payloads))
    except PayloadKeyError as exc:
        return _cors(request, error_response(ApiError(422, str(exc))))
    body = json_format.MessageToJson(result)
    return _cors(request, Response(body, media_type="application/json"))


@router.post("/decode")
async def decode(request: Request) -> Response:
    return await _apply(request, lambda codec, payloads: codec.decode(payloads))


@router.post("/encode")
async def encode(request: Request) -> Response:
    return await _apply(request, lambda codec, payloads: codec.encode(payloads))


@router.options("/decode")
@router.options("/encode")
async def preflight(request: Request) -> Response:
    """The browser's CORS check before the UI's POST; it carries no credential."""
    if _access(request).token is None:
        return _cors(request, error_response(ApiError(404, "Not Found")))
    return _cors(request, Response(status_code=204))


@router.get("")
async def sign_in(request: Request) -> Response:
    """Opened once in the operator's browser: it asks for the token (as the password) and
    keeps it, so the Temporal UI's codec requests carry it from then on."""
    refused = _refusal(request)
    if refused is not None:
        return refused
    text = "Signed in: the Temporal UI in this browser can now decode payloads.\n"
    return _cors(request, Response(text, media_type="text/plain"))
