"""Approve or decline one guest: a short workflow, so every Luma write is durable and audited."""

from __future__ import annotations

from dataclasses import replace

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from activities.guest_status import GuestStatusActivities
    from workflows.contracts.guest_status import GuestStatusChange, GuestStatusResult
    from workflows.retry import LUMA_RETRY, QUICK


@workflow.defn
class SetGuestStatusWorkflow:
    @workflow.run
    async def run(self, change: GuestStatusChange) -> GuestStatusResult:
        info = workflow.info()
        keyed = replace(change, idempotency_key=f"{info.workflow_id}/{info.run_id}")
        return await workflow.execute_activity_method(
            GuestStatusActivities.set_guest_status,
            keyed,
            start_to_close_timeout=QUICK,
            retry_policy=LUMA_RETRY,
        )
