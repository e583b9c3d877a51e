"""Stripe through its Python library: Checkout and customer-portal sessions, webhook events.

The API base is configurable (STRIPE_API_BASE) so tests point the library at a local fake;
each call opens its own async HTTP client and closes it, since billing calls are rare (an
admin asking for a link) and nothing is left open between them.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import stripe

log = logging.getLogger(__name__)

WEBHOOK_TOLERANCE_SECONDS = 300  # Stripe's default: older signed events are refused


class BillingUnavailable(Exception):
    """Stripe could not be reached or refused; the text is fit to show a person."""


class BadSignature(Exception):
    """A webhook whose `Stripe-Signature` does not verify (forged, altered, or too old)."""


@dataclass(frozen=True)
class StripeGateway:
    """The few Stripe calls billing makes, with the key and endpoint from settings."""

    api_key: str
    webhook_secret: str | None = None
    api_base: str | None = None
    timeout: float = 20.0

    @asynccontextmanager
    async def _client(self) -> AsyncIterator[stripe.StripeClient]:
        http = stripe.HTTPXClient(timeout=self.timeout)
        client = stripe.StripeClient(
            self.api_key,
            http_client=http,
            base_addresses={"api": self.api_base} if self.api_base else None,
            max_network_retries=1,
        )
        try:
            yield client
        except stripe.StripeError as exc:
            log.warning("Stripe call failed: %s", exc.__class__.__name__)
            raise BillingUnavailable(
                "Stripe did not accept the request; please try again in a minute."
            ) from None
        finally:
            await http.close_async()

    async def create_customer(self, *, org_id: int, name: str) -> str:
        """A Stripe customer for the org; the idempotency key makes a retry return the same."""
        async with self._client() as client:
            customer = await client.v1.customers.create_async(
                {"name": name[:250], "metadata": {"org_id": str(org_id)}},
                {"idempotency_key": f"lumabot-customer-{org_id}"},
            )
        return str(customer.id)

    async def checkout_url(
        self,
        *,
        org_id: int,
        plan: str,
        price_id: str,
        customer_id: str,
        success_url: str,
        cancel_url: str,
    ) -> str:
        """A Checkout session subscribing the org to `price_id`; the link a person opens."""
        metadata = {"org_id": str(org_id), "plan": plan}
        async with self._client() as client:
            session = await client.v1.checkout.sessions.create_async(
                {
                    "mode": "subscription",
                    "customer": customer_id,
                    "client_reference_id": str(org_id),
                    "line_items": [{"price": price_id, "quantity": 1}],
                    "metadata": metadata,
                    "subscription_data": {"metadata": metadata},
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                }
            )
        return str(session.url)

    async def portal_url(self, *, customer_id: str, return_url: str) -> str:
        """A customer-portal session: change card, switch plan, cancel."""
        async with self._client() as client:
            session = await client.v1.billing_portal.sessions.create_async(
                {"customer": customer_id, "return_url": return_url}
            )
        return str(session.url)

    def verified_event(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """The event in `payload` once its signature checks out with the endpoint secret.

        Raises `BadSignature` for a missing, wrong or stale signature (older than five
        minutes, so a captured request cannot be replayed later) and for a body that is
        not an event.
        """
        if not self.webhook_secret:
            raise BadSignature("no webhook secret is configured")
        try:
            stripe.Webhook.construct_event(
                payload, signature, self.webhook_secret, tolerance=WEBHOOK_TOLERANCE_SECONDS
            )
            event = json.loads(payload)
        except (stripe.SignatureVerificationError, ValueError) as exc:
            raise BadSignature(str(exc)) from None
        if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
            raise BadSignature("the payload is not a Stripe event")
        return event
