"""Every line an activity logs names its org and chat when its input has them.

The workflow and run ids come from Temporal's activity context (`core.logs` reads them); the
org and chat are the input's `org_id` and `chat_id`, which most of our activity inputs carry.
`worker.build_worker` installs the interceptor.
"""

from __future__ import annotations

from typing import Any

from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from core.logs import log_context


class LogContextInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _LogContext(next)


class _LogContext(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        first = input.args[0] if input.args else None
        org, chat = getattr(first, "org_id", None), getattr(first, "chat_id", None)
        with log_context(
            org=org if isinstance(org, int) else None, chat=chat if isinstance(chat, int) else None
        ):
            return await self.next.execute_activity(input)
