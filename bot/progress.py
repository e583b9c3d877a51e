"""A bulk job's live message: one message edited in place until the job's final report.

The board polls the workflow's `progress` query every second or two and edits the message
(progress bar, counts, ETA, Pause/Resume/Cancel buttons) only when what it shows changed;
the job's result is awaited alongside (a long poll), so the final report replaces the bar as
soon as the job ends. The workflow also posts its report as a new message, which survives a
restart of the bot, whereas this watcher lives in the bot's memory.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest, TelegramRetryAfter
from aiogram.types import InlineKeyboardMarkup
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from temporalio.client import WorkflowExecutionStatus, WorkflowFailureError
from temporalio.service import RPCError

from bot.context import NO_PREVIEW, Translator
from bot.errors import failure_reason
from bot.keyboards import job_keyboard
from bot.texts import ING_VERBS, duration, progress_bar, q
from services.automations import Automations
from services.automations.jobs import bulk_progress_or_last
from store.models import AuditEntry, Event, utcnow
from workflows.contracts.bulk import BulkProgress, BulkReport

log = logging.getLogger(__name__)
RESUME_WITHIN = timedelta(days=2)  # older jobs' live messages are left as they are

PHASE_NOTES = {
    "resolving": "Finding the matching guests in Luma…",
    # The job stops starting writes within a couple of seconds; calls in flight finish.
    "paused": "Paused: the guests in flight finish, nothing more changes. Press Resume to go on.",
    "cancelling": "Cancelling: the guests in flight finish, then the report comes…",
    # No worker answered: one may have stopped, and its batch moves to another within seconds.
    "waiting": "Waiting for a worker to pick the job up again; counts as last written.",
}


@dataclass(frozen=True)
class Watched:
    """Where a job's live message is; `title` is its first line (HTML, already escaped)."""

    bot: Bot
    chat_id: int
    message_id: int
    workflow_id: str
    title: str
    # The final report in the language the job was asked for in (`Ctx.translator`); the
    # live counts stay in English, as they change every few seconds.
    translate: Translator | None = None


def job_title(target_status: str, event_name: str) -> str:
    """A bulk job's live message's first line."""
    return f"<b>{ING_VERBS[target_status]} guests of {q(event_name, 100)}</b>"


def render_progress(job: Watched, progress: BulkProgress, web_url: str) -> str:
    processed = progress.done + progress.skipped + progress.failed
    lines = [job.title]
    if progress.phase == "resolving" and not progress.total:
        lines.append(progress_bar(0, 1))
    else:
        lines.append(
            f"{progress_bar(processed, progress.total)}  ({processed} of {progress.total})"
        )
        lines.append(
            f"Done {progress.done} · skipped {progress.skipped} · failed {progress.failed}"
        )
    note = PHASE_NOTES.get(progress.phase)
    if note:
        lines.append(note)
    elif progress.eta_seconds is not None:
        lines.append(f"About {duration(progress.eta_seconds)} left.")
    lines.append(f'<a href="{q(web_url, 500)}">Follow it in the web portal</a>')
    return "\n".join(lines)


def render_final(report: BulkReport) -> str:
    processed = report.done + report.skipped + report.failed
    return f"{progress_bar(processed, report.total)}\n{report.text}"


class ProgressBoard:
    """The live messages of running bulk jobs, one watcher task per job."""

    def __init__(
        self,
        automations: Automations,
        sessions: async_sessionmaker[AsyncSession],
        *,
        interval: float = 1.5,
    ) -> None:
        self.automations = automations
        self.sessions = sessions
        self.interval = interval
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._pokes: dict[str, asyncio.Event] = {}
        self._resuming: asyncio.Task[None] | None = None

    def watch(self, job: Watched) -> None:
        """Start editing `job`'s message; a job already watched keeps its message."""
        if job.workflow_id in self._tasks:
            return
        self._pokes[job.workflow_id] = asyncio.Event()
        task = asyncio.create_task(self._run(job), name=f"progress {job.workflow_id}")
        self._tasks[job.workflow_id] = task
        task.add_done_callback(lambda _: self._forget(job.workflow_id))

    def resume(self, bot: Bot, sessions: async_sessionmaker[AsyncSession]) -> None:
        """Pick up, in the background, the live messages of bulk jobs still running (the bot
        restarted): the bot's starts are audited with their message."""
        if self._resuming is None or self._resuming.done():
            self._resuming = asyncio.create_task(self._resume(bot, sessions))

    async def _resume(self, bot: Bot, sessions: async_sessionmaker[AsyncSession]) -> None:
        since = utcnow() - RESUME_WITHIN
        async with sessions() as session:
            rows = await session.execute(
                select(AuditEntry, Event.name)
                .outerjoin(
                    Event,
                    (Event.org_id == AuditEntry.org_id)
                    & (Event.luma_event_id == AuditEntry.target["event_id"].as_string()),
                )
                .where(
                    AuditEntry.source == "bot",
                    AuditEntry.action.in_([f"bulk_{target}_started" for target in ING_VERBS]),
                    AuditEntry.created_at > since,
                    AuditEntry.target["message_id"].as_string().is_not(None),
                )
                .order_by(AuditEntry.id.desc())
            )
            started = [(entry, name) for entry, name in rows]
        for entry, event_name in started:
            job_id, chat_id = entry.target.get("job"), entry.chat_id
            target = entry.action.removeprefix("bulk_").removesuffix("_started")
            if not isinstance(job_id, str) or chat_id is None or target not in ING_VERBS:
                continue
            if self.watching(job_id) or not await self._running(job_id):
                continue
            title = job_title(target, event_name or "the event")
            self.watch(Watched(bot, chat_id, int(entry.target["message_id"]), job_id, title))

    async def _running(self, workflow_id: str) -> bool:
        try:
            description = await self.automations.bulk_handle(workflow_id).describe()
        except RPCError as exc:
            log.info("not resuming progress of %s: %s", workflow_id, exc)
            return False
        return description.status == WorkflowExecutionStatus.RUNNING

    def watching(self, workflow_id: str) -> bool:
        return workflow_id in self._tasks

    def poke(self, workflow_id: str) -> None:
        """Refresh now (a button was pressed) rather than at the next tick."""
        if (event := self._pokes.get(workflow_id)) is not None:
            event.set()

    async def aclose(self) -> None:
        tasks = list(self._tasks.values())
        if self._resuming is not None:
            tasks.append(self._resuming)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _forget(self, workflow_id: str) -> None:
        self._tasks.pop(workflow_id, None)
        self._pokes.pop(workflow_id, None)

    async def _run(self, job: Watched) -> None:
        outcome = asyncio.ensure_future(self.automations.bulk_handle(job.workflow_id).result())
        shown: tuple[str, str] | None = None
        markup: InlineKeyboardMarkup | None = job_keyboard(job.workflow_id, paused=False)
        web_url = self.automations.job_url(job.workflow_id)
        try:
            while not outcome.done():
                progress = await self._progress(job.workflow_id)
                if progress is not None and progress.phase != "finished":
                    text = render_progress(job, progress, web_url)
                    if progress.phase != "waiting":  # unknown then: the buttons stay as shown
                        paused = progress.phase == "paused"
                        markup = (
                            None  # nothing left to press while it winds down
                            if progress.phase == "cancelling"
                            else job_keyboard(job.workflow_id, paused=paused)
                        )
                    state = (text, markup.model_dump_json() if markup else "")
                    if state != shown and not await self._edit(job, text, markup):
                        return  # the message is gone: nobody is watching any more
                    shown = state
                await self._tick(job.workflow_id, outcome)
            try:
                final = render_final(outcome.result())
            except WorkflowFailureError as exc:
                final = f"The bulk job stopped: {q(failure_reason(exc), 300)}"
            if job.translate is not None:
                final = await job.translate(final)
            await self._edit(job, final, None)
        except Exception:
            log.exception("progress of %s stopped", job.workflow_id)
        finally:
            outcome.cancel()

    async def _progress(self, workflow_id: str) -> BulkProgress | None:
        async with self.sessions() as session:
            return await bulk_progress_or_last(self.automations, session, workflow_id)

    async def _tick(self, workflow_id: str, outcome: asyncio.Future[BulkReport]) -> None:
        poke = self._pokes[workflow_id]
        poked = asyncio.ensure_future(poke.wait())
        either: set[asyncio.Future[Any]] = {outcome, poked}
        try:
            await asyncio.wait(either, timeout=self.interval, return_when="FIRST_COMPLETED")
        finally:
            poked.cancel()
            poke.clear()

    async def _edit(self, job: Watched, text: str, markup: InlineKeyboardMarkup | None) -> bool:
        """Edit the live message; False when it no longer exists."""
        for _ in range(3):
            try:
                await job.bot.edit_message_text(
                    text,
                    chat_id=job.chat_id,
                    message_id=job.message_id,
                    reply_markup=markup,
                    link_preview_options=NO_PREVIEW,
                )
                return True
            except TelegramRetryAfter as exc:
                await asyncio.sleep(exc.retry_after)
            except TelegramBadRequest as exc:
                if "not modified" in exc.message:
                    return True
                log.info("progress message of %s is gone: %s", job.workflow_id, exc.message)
                return False
            except TelegramAPIError as exc:
                log.warning("could not edit progress of %s: %s", job.workflow_id, exc)
                return True
        return True
