"""Workflow results and their human-readable texts (HTML for Telegram; user text escaped)."""

from __future__ import annotations

from html import escape

from workflows.contracts.bulk import BulkReport

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
