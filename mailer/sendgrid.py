"""SendGrid's v3 `mail/send` over httpx; the base URL is configurable (tests use a fake).

SendGrid answers 202 when it has taken the message. A connection that could not be opened,
a 429 or a 5xx mean it did not (`MailUnavailable`); 401/403 mean our key is wrong
(`MailConfigError`); other 4xx refuse this message (`MailRejected`). A request that fails
after it was sent leaves the outcome unknown and propagates as is.
"""

from __future__ import annotations

from typing import Any

import httpx

from mailer import (
    MailConfigError,
    MailRejected,
    MailUnavailable,
    OutgoingMail,
    sender_address,
)

TIMEOUT_SECONDS = 20.0


class SendGridMailer:
    def __init__(
        self,
        api_key: str,
        *,
        sender: str,
        base_url: str = "https://api.sendgrid.com",
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        self.sender = sender
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {api_key}"},
            timeout=timeout,
        )

    def payload(self, mail: OutgoingMail) -> dict[str, Any]:
        name, address = sender_address(self.sender)
        recipient = {"email": mail.to, **({"name": mail.to_name} if mail.to_name else {})}
        return {
            "personalizations": [{"to": [recipient]}],
            "from": {"email": address, **({"name": name} if name else {})},
            "subject": mail.subject,
            "content": [{"type": "text/plain", "value": mail.text}],
            "headers": {"Message-ID": mail.message_id, **mail.headers},
            # Comes back in SendGrid's event webhooks, to match events to our sends.
            "custom_args": {"message_id": mail.message_id},
        }

    async def send(self, mail: OutgoingMail) -> None:
        try:
            response = await self._client.post("/v3/mail/send", json=self.payload(mail))
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            raise MailUnavailable(f"cannot reach SendGrid: {exc}") from None
        status = response.status_code
        if status in (200, 202):
            return
        detail = f"SendGrid answered {status}: {response.text[:200]}"
        if status in (401, 403):
            raise MailConfigError(detail)
        if status == 429 or status >= 500:
            raise MailUnavailable(detail)
        raise MailRejected(detail)

    async def aclose(self) -> None:
        await self._client.aclose()
