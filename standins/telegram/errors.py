"""Bot API failures, raised anywhere and answered in Telegram's error envelope."""

from __future__ import annotations

from typing import Any

# Telegram prefixes each description with the HTTP reason; aiogram shows it verbatim.
_REASONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
}


class ApiError(Exception):
    """A Bot API call that Telegram would refuse, with its HTTP code and description."""

    def __init__(self, code: int, detail: str = "", *, retry_after: int | None = None) -> None:
        self.code = code
        self.description = f"{_REASONS[code]}: {detail}" if detail else _REASONS[code]
        self.retry_after = retry_after
        super().__init__(self.description)

    def envelope(self) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "ok": False,
            "error_code": self.code,
            "description": self.description,
        }
        if self.retry_after is not None:
            answer["parameters"] = {"retry_after": self.retry_after}
        return answer


def bad_request(detail: str) -> ApiError:
    return ApiError(400, detail)
