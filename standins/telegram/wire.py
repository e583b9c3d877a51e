"""How Bot API parameters arrive over HTTP: query string, JSON, urlencoded or multipart.

aiogram sends multipart forms in which every non-string value is JSON-encoded (`chat_id`
"42", `reply_markup` '{"inline_keyboard": …}') and files are parts referenced as
`attach://<name>`. Telegram knows each parameter's type; here, parameters that are always
strings stay strings (a message text "42" must not become a number) and the rest are
JSON-decoded when they parse.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Mapping
from typing import Any

from starlette.datastructures import FormData, Headers, UploadFile
from starlette.formparsers import FormParser, MultiPartParser

from standins.telegram.errors import bad_request
from standins.telegram.media import UploadedFile

Json = dict[str, Any]

_STRING_PARAMS = frozenset(
    {
        "text",
        "caption",
        "parse_mode",
        "callback_query_id",
        "inline_message_id",
        "url",
        "secret_token",
        "action",
        "language_code",
        "document",
        "photo",
        "method",
        "business_connection_id",
        "message_effect_id",
    }
)
_ATTACH = "attach://"


async def decode_params(
    headers: Headers, query: Mapping[str, str], body: AsyncGenerator[bytes, None]
) -> Json:
    """All parameters of a request; files become `UploadedFile`s."""
    params = {name: _decode_value(name, value) for name, value in query.items()}
    content_type = headers.get("content-type", "")
    if content_type.startswith("application/json"):
        params.update(await _json_object(body))
    elif content_type.startswith("multipart/form-data"):
        params.update(await _form(await MultiPartParser(headers, body).parse()))
    elif content_type.startswith("application/x-www-form-urlencoded"):
        params.update(await _form(await FormParser(headers, body).parse()))
    return params


async def _json_object(body: AsyncGenerator[bytes, None]) -> Json:
    raw = b"".join([chunk async for chunk in body])
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        raise bad_request("can't parse JSON object") from None
    if not isinstance(value, dict):
        raise bad_request("can't parse JSON object")
    return value


async def _form(form: FormData) -> Json:
    values: Json = {}
    uploads: dict[str, UploadedFile] = {}
    try:
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                uploads[name] = UploadedFile(value.filename or name, await value.read())
            else:
                values[name] = _decode_value(name, value)
    finally:
        await form.close()
    attached = set()
    for name, value in values.items():
        if isinstance(value, str) and value.startswith(_ATTACH):
            part = value.removeprefix(_ATTACH)
            if part not in uploads:
                raise bad_request(f"file {value} not found in the request")
            values[name] = uploads[part]
            attached.add(part)
    # A file posted directly under the parameter's name (curl -F document=@x) counts too.
    return {**{name: file for name, file in uploads.items() if name not in attached}, **values}


def _decode_value(name: str, value: str) -> Any:
    if name in _STRING_PARAMS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
