"""Benchmark: the bulk job's guest filter over 50,000 fresh guests with a 2,000-email list.

The resolve activity applies `GuestFilter.matches` to every guest of every Luma page on the
worker's event loop, so the filter must cost one set lookup per guest, not a rebuild of the
email key set per guest (the old `_email_keys()` did that: about 115 s of blocked loop at this
size). This measures the compiled matcher, and the per-guest rebuild on a sample, and prints
the ratio against the target.

    .venv/bin/python bench/guest_filter.py [--guests 50000] [--emails 2000]
"""

from __future__ import annotations

import argparse
import time

from catalog.guest_filter import GuestFilter, GuestMatcher, People
from luma import LumaGuest

TARGET_SECONDS = 1.0  # the whole 50,000-guest pass, on a busy 2-core machine
OLD_SAMPLE = 200  # guests timed with the per-guest rebuild (the full run would take minutes)


def guests(count: int) -> list[LumaGuest]:
    return [
        LumaGuest(
            id=f"gst-{i}",
            email=f"Person.{i}@d{i % 50}.com",
            name=f"Person {i}",
            approval_status="pending_approval" if i % 2 else "approved",
            registration_answers=[{"label": "Diet", "answer": "vegan" if i % 10 else "none"}],
        )
        for i in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--guests", type=int, default=50_000)
    parser.add_argument("--emails", type=int, default=2_000)
    options = parser.parse_args()
    fresh = guests(options.guests)
    wanted = GuestFilter(
        statuses=["pending_approval"],
        emails=[f"person.{i}@d{i % 50}.com" for i in range(0, options.guests, 25)][
            : options.emails
        ],
        answer_label="diet",
    )

    started = time.perf_counter()
    matcher = wanted.compiled  # once per resolve activity
    picked = [guest for guest in fresh if matcher.matches(guest, People())]
    compiled = time.perf_counter() - started

    started = time.perf_counter()
    for guest in fresh[:OLD_SAMPLE]:  # the old way: the key set rebuilt for every guest
        GuestMatcher.of(wanted).matches(guest, People())
    rebuilt = (time.perf_counter() - started) / OLD_SAMPLE * len(fresh)

    print(f"{len(fresh):,} guests, {len(wanted.emails):,} emails, {len(picked):,} matched")
    print(f"compiled once:        {compiled:8.3f} s")
    print(f"rebuilt per guest:    {rebuilt:8.3f} s (extrapolated from {OLD_SAMPLE} guests)")
    print(f"speed-up:             {rebuilt / compiled:8.0f}x")
    print(
        f"target {TARGET_SECONDS:.1f} s: {compiled / TARGET_SECONDS:.2f} of it "
        f"({'met' if compiled <= TARGET_SECONDS else 'MISSED'})"
    )


if __name__ == "__main__":
    main()
