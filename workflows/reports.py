"""Workflow results and their human-readable texts (HTML for Telegram; user text escaped)."""

from __future__ import annotations

from html import escape

from workflows.contracts.bulk import BulkReport
from workflows.contracts.invites import InviteTotals

VERB = {"approved": "Approved", "declined": "Declined"}


def bulk_report_text(report: BulkReport, event_name: str, pending: int) -> str:
    """The job's outcome as the snapshot has it; `pending` guests were never written to."""
    title = "Bulk job cancelled" if report.cancelled else "Bulk job finished"
    where = f" for <b>{escape(event_name)}</b>" if event_name else ""
    lines = [f"{title}{where}."]
    if report.cancelled:
        processed = report.done + report.skipped + report.failed
        outcomes = [f"{report.done} {report.target_status}"]
        if report.skipped:
            outcomes.append(f"{report.skipped} already {report.target_status}")
        if report.failed:
            outcomes.append(f"{report.failed} could not be changed")
        outcomes.append(f"{pending} left as they were")
        lines.append(f"Cancelled after {processed} of {report.total}: {', '.join(outcomes)}.")
    else:
        lines.append(
            f"{VERB.get(report.target_status, report.target_status)}: {report.done} of "
            f"{report.total} matching guest(s)."
        )
        if report.skipped:
            lines.append(f"Already {report.target_status}: {report.skipped}.")
    if report.failed:
        lines.append(f"Could not change: {report.failed}.")
        lines += [
            f"• {escape(failure.email)}: {escape(failure.reason)}" for failure in report.failures
        ]
        if report.failed > len(report.failures):
            lines.append(f"… and {report.failed - len(report.failures)} more.")
    return "\n".join(lines)


INVITE_OUTCOMES = (
    ("added", "added", "invited"),
    ("already", "already on the guest list", "already on the guest list"),
    ("invalid", "not valid addresses", "not valid addresses"),
    ("refused", "refused by Luma", "refused by Luma"),
)


def invite_report_text(event_name: str, how: str, totals: InviteTotals) -> str:
    """Every address of the list, accounted for: the counts add up to the list's length."""
    counts = totals.counts
    parts = [
        f"{counts.get(state, 0)} {added if how == 'add' else invited}"
        for state, added, invited in INVITE_OUTCOMES
        if counts.get(state, 0)
    ]
    total = sum(counts.values())
    lines = [
        f"Invite list for <b>{escape(event_name)}</b> done: "
        + (", ".join(parts) or "nothing to do")
        + f" ({total} address(es) in all, each accounted for)."
    ]
    if totals.refused_sample:
        lines.append("Refused: " + ", ".join(escape(e) for e in totals.refused_sample))
    return "\n".join(lines)
