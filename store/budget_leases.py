"""A process's leases on the shared Luma budget: slots taken from the database a few at a time.

Recording every send in its own transaction made the shared budget cost more than the
request it admitted (a lock, a count and an insert per Luma call). A process instead takes
several slots in one transaction and hands them out from memory, for a very short time:

- A slot is logged at the moment it is leased, so a leased slot counts against the limit
  whether or not it is used; it may be used only for `ttl` seconds (half the policy's
  margin), so a send leaves our counted window later than it leaves Luma's, as before.
- A lease's size follows demand: one slot at first, twice as many after a lease was mostly
  used in time, back to what was used after one ran out with slots left; never more than a
  twentieth of the limit, so one process cannot take a window's worth from the others.
  Slots left over are given back (their log rows deleted) by the next lease's transaction.
- Under steady demand the next lease is taken when a quarter of the current one is left,
  so callers do not stop for the refill (nor all start at once when it lands).
- One refill at a time per key and kind: callers arriving meanwhile wait for it and share
  it, and a refused refill's wait is shared too, so a full window costs one round trip.
- A penalty (429) drops this process's leases at once; another process's penalty reaches
  a lease at its end, at most `ttl` later.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field

MAX_LEASE = 64  # slots in one transaction, whatever the limit


def largest_lease(limit: int) -> int:
    """The most slots one lease may take under a limit of `limit` a window."""
    return max(1, min(MAX_LEASE, limit // 20))


@dataclass(slots=True)
class Lease:
    """This process's unused slots for one budget key and kind of caller."""

    # Leased log row ids not used yet, oldest first, each with the loop time after which it
    # may no longer be used.
    slots: deque[tuple[int, float]] = field(default_factory=deque)
    size: int = 1  # slots to ask for next
    used: int = 0  # slots handed out since the last grant
    fresh: int | None = None  # the newest grant's first slot, until it is handed out
    not_before: float = 0.0  # loop time before which the window is known to be full
    waiting: int = 0  # callers waiting for a slot
    stale: list[int] = field(default_factory=list)  # unused slots to give back
    refill: asyncio.Future[None] | None = None

    def take(self, now: float) -> bool:
        """Hand out one leased slot, if one is left and still usable. A new grant's first
        slot always is (as a single slot always was, however late its caller woke): so
        every refill lets one caller through, even when `ttl` is shorter than a stall."""
        if self._expired(now):
            self.size, self.used = max(1, self.used), 0  # ran out of time: that much was needed
            while self._expired(now):
                self.stale.append(self.slots.popleft()[0])
        if not self.slots:
            return False
        slot, _ = self.slots.popleft()
        self.used += 1
        if slot == self.fresh:
            self.fresh = None
        return True

    def _expired(self, now: float) -> bool:
        """Whether the oldest slot is past its time (the newest grant's first never is)."""
        return bool(self.slots) and self.slots[0][1] <= now and self.slots[0][0] != self.fresh

    def running_low(self) -> bool:
        """Worth leasing more before these run out (callers then never wait for a refill,
        nor all leave at once when it lands): a lease of 4 or more, a quarter left."""
        return self.size >= 4 and len(self.slots) <= self.size // 4

    def want(self, largest: int) -> int:
        """Slots to ask for: the current size (twice it when most of the last lease was
        used in time), or as many as are waiting, within `largest`."""
        if self.used >= max(1, self.size * 3 // 4):
            self.size = min(largest, self.size * 2)
        return max(1, min(largest, max(self.size, self.waiting)))

    def grant(self, ids: list[int], expires: float) -> None:
        self.slots.extend((slot, expires) for slot in ids)
        self.used, self.fresh = 0, ids[0]

    def drop(self) -> None:
        """Give up the slots left (they are given back at the next refill)."""
        self.stale.extend(slot for slot, _ in self.slots)
        self.slots.clear()

    def take_stale(self) -> list[int]:
        stale, self.stale = self.stale, []
        return stale
