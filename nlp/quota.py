"""How many Gemini calls an org may make per day: the contract only.

The real quota lives in the database so every bot process shares it; the facade only needs
to ask before each call. No implementation lives here on purpose: an in-process counter
would pretend to limit what several processes would each spend in full.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol


class CallQuota(Protocol):
    async def try_consume(self, org_id: int, *, day: date) -> bool:
        """Count one call for `org_id` on `day` (the org's local day); False when spent."""
        ...
