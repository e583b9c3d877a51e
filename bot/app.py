"""The bot's composition: its clients (`BotDeps`), the dispatcher, and `lumabot bot`.

`build_dispatcher(deps)` is all a Telegram front needs: long polling here (`run_polling`),
or the control API's webhook, which feeds each update with `await dp.feed_update(bot,
update)` after `await dp.emit_startup(bot=bot)` (registers the command menu) and before
`await dp.emit_shutdown()` (stops the live progress messages).
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiogram import Bot, Dispatcher, methods
from aiogram.exceptions import AiogramError, TelegramAPIError
from aiogram.fsm.storage.base import BaseStorage
from aiogram.fsm.storage.memory import MemoryStorage
from aiogram.methods.base import Response, TelegramMethod
from aiogram.types import BotCommand, Message
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from billing import Billing, PlanQuota
from bot.factory import create_bot
from bot.middlewares.errors import ErrorsMiddleware
from bot.middlewares.key_guard import KeyGuardMiddleware
from bot.middlewares.metrics import MetricsMiddleware
from bot.middlewares.roles import RolesMiddleware
from bot.middlewares.session import DbSessionMiddleware
from bot.middlewares.tenant import TenantMiddleware
from bot.middlewares.throttling import ThrottleLimits, ThrottlingMiddleware
from bot.progress import ProgressBoard
from bot.routers import automations, event_choice, events, link, natural, start, status_changes
from bot.routers import billing as billing_router
from bot.routers import crm as crm_router
from bot.routers import enrichment as enrichment_router
from bot.routers import followups as followups_router
from bot.routers import forget as forget_router
from bot.routers import invites as invites_router
from bot.routers import policies as policies_router
from bot.routers import privacy as privacy_router
from bot.routers import profiles as profiles_router
from bot.routers import trends as trends_router
from bot.routers import web as web_router
from core.metrics import MeteredBudget, metrics_served
from core.settings import ConfigError, Settings
from intel.rubric import RubricReader
from intel.vip import VipRules
from luma import BudgetPolicy, LumaPool
from luma.ratelimit import ceilings
from nlp import GeminiParser, IntentParser
from services.automations import Automations
from services.rubric_reader import rubric_reader
from store.crypto import KeyBox
from store.db import PING_AFTER_IDLE_SECONDS, engine_for, session_factory
from store.rate_budget import DatabaseRateBudget
from store.request_limits import RequestLimits

log = logging.getLogger(__name__)

# Start-up calls Telegram refuses (the command menu, getMe) are tried again after this long,
# doubling up to the maximum.
STARTUP_RETRY_FIRST_SECONDS = 1.0
STARTUP_RETRY_MAX_SECONDS = 60.0

# aiogram reads every Bot API answer as `Response[T]`, and pydantic keeps a parametrized model
# only while something refers to it: unpinned, a busy bot rebuilds these models again and
# again (milliseconds of CPU each, measured as the largest cost of a cached answer).
_PINNED_METHODS: tuple[type[TelegramMethod[Any]], ...] = (
    methods.GetUpdates,
    methods.GetMe,
    methods.SendMessage,
    methods.SendDocument,
    methods.EditMessageText,
    methods.EditMessageReplyMarkup,
    methods.AnswerCallbackQuery,
    methods.DeleteMessage,
    methods.GetChatMember,
    methods.SetMyCommands,
    methods.DeleteWebhook,
)
# `Response[method.__returning__]`, spelled as the call it is (a runtime type argument).
_PINNED_RESPONSES = tuple(
    Response.__class_getitem__(method.__returning__) for method in _PINNED_METHODS
)

COMMANDS = [
    BotCommand(command="events", description="Events: upcoming, past, a city or a month"),
    BotCommand(command="event", description="One event: counts, capacity, check-ins"),
    BotCommand(command="guests", description="Guests of an event [status] [@domain]"),
    BotCommand(command="pending", description="Guests waiting for approval"),
    BotCommand(command="find", description="A person's history across events"),
    BotCommand(command="policy", description="Approval rules of an event: add, test, mode"),
    BotCommand(command="invite", description="Add or invite a list of people to an event"),
    BotCommand(command="approve", description="Approve a guest"),
    BotCommand(command="decline", description="Decline a guest"),
    BotCommand(command="bulk", description="Approve or decline many guests"),
    BotCommand(command="export", description="Guest list as CSV"),
    BotCommand(command="followup", description="Email an event's attendees or no-shows"),
    BotCommand(command="unsubscribe", description="Stop follow-up emails to a person"),
    BotCommand(command="vips", description="VIPs of an event, with their scores"),
    BotCommand(command="repeats", description="Repeat guests of an event"),
    BotCommand(command="tag", description="Tag a person (vip, speaker…)"),
    BotCommand(command="untag", description="Remove a person's tag"),
    BotCommand(command="note", description="Add a note on a person"),
    BotCommand(command="trends", description="Trends: by month, event, city, domain, company"),
    BotCommand(command="enrich", description="Guest enrichment: on, off, run, status"),
    BotCommand(command="crm", description="CRM and Airtable sync: status, sync"),
    BotCommand(command="sync", description="Sync with Luma now"),
    BotCommand(command="jobs", description="Running and recent jobs"),
    BotCommand(command="status", description="Linked calendar, cache and jobs"),
    BotCommand(command="digest", description="Daily digest on/off"),
    BotCommand(command="link", description="Link a Luma calendar"),
    BotCommand(command="unlink", description="Unlink this chat"),
    BotCommand(command="use", description="Choose a calendar (private chat)"),
    BotCommand(command="role", description="Give someone a role"),
    BotCommand(command="privacy", description="Who sees guest details in this group"),
    BotCommand(command="forget", description="Delete a calendar's key and data"),
    BotCommand(command="token", description="Control-API tokens"),
    BotCommand(command="web", description="Sign-in link to the web portal"),
    BotCommand(command="upgrade", description="Upgrade this calendar's plan"),
    BotCommand(command="billing", description="Manage the subscription"),
    BotCommand(command="help", description="What I can do"),
    BotCommand(command="cancel", description="Cancel the current step"),
]


@dataclass
class BotDeps:
    """Everything handlers use, injected through the dispatcher (no module-level clients).

    The tunables say how fresh the cache must be to answer without asking Luma, and how
    long a person waits for a refresh before getting the cached answer with a note.
    """

    settings: Settings
    sessions: async_sessionmaker[AsyncSession]
    keybox: KeyBox
    luma: LumaPool
    automations: Automations
    parser: IntentParser
    event_fresh_for: timedelta = timedelta(minutes=5)
    org_fresh_for: timedelta = timedelta(minutes=30)
    refresh_timeout: float = 10.0
    sync_timeout: float = 30.0
    throttle: ThrottleLimits = field(default_factory=ThrottleLimits)
    progress_interval: float = 1.5
    progress: ProgressBoard = field(init=False)
    billing: Billing = field(init=False)
    vip_rules: VipRules = field(init=False)  # the defaults only: an org's are `Ctx.vip_rules()`
    rubric: RubricReader | None = None  # approval rubrics' reader (Gemini); None: not set up

    def __post_init__(self) -> None:
        self.progress = ProgressBoard(
            self.automations, self.sessions, interval=self.progress_interval
        )
        self.billing = Billing.from_settings(self.settings)
        self.vip_rules = VipRules.from_settings(self.settings)


async def _edit_seen(message: Message) -> None:
    """Edits need no answer; they are received only so the key guard sees them."""


def build_dispatcher(deps: BotDeps, storage: BaseStorage | None = None) -> Dispatcher:
    """Routers in priority order, middlewares, and the deps every handler may ask for.

    FSM state lives in memory by default (one bot process); pass another storage to share it.
    """
    dp = Dispatcher(storage=storage or MemoryStorage())
    dp["deps"] = deps
    # Outer middlewares see every update: errors outermost, then the DB session.
    dp.update.outer_middleware(MetricsMiddleware())  # counts every update (core.metrics)
    dp.update.outer_middleware(ErrorsMiddleware())
    dp.update.outer_middleware(DbSessionMiddleware(deps.sessions))
    key_guard = KeyGuardMiddleware()  # every group message, new or edited, handled or not
    dp.message.outer_middleware(key_guard)
    dp.edited_message.outer_middleware(key_guard)
    dp.edited_message.register(_edit_seen)  # so Telegram sends edits, for the key guard
    # Inner ones run only when a handler matched, so chatter in groups costs nothing.
    throttling = ThrottlingMiddleware(RequestLimits(deps.sessions), deps.throttle)
    for observer in (dp.message, dp.callback_query):
        observer.middleware(throttling)
        observer.middleware(TenantMiddleware())
        observer.middleware(RolesMiddleware())
    dp.include_routers(
        start.build_router(),
        link.build_router(),
        events.build_router(),
        event_choice.build_router(),
        status_changes.build_router(),
        profiles_router.build_router(),
        policies_router.build_router(),
        invites_router.build_router(),
        automations.build_router(),
        trends_router.build_router(),
        enrichment_router.build_router(),
        crm_router.build_router(),
        billing_router.build_router(),
        web_router.build_router(),
        followups_router.build_router(),
        privacy_router.build_router(),
        forget_router.build_router(),
        natural.build_router(),  # last: it takes any text addressed to the bot
    )
    menu = CommandMenu()
    dp.startup.register(menu.start)

    async def resume_progress(bot: Bot) -> None:
        deps.progress.resume(bot, deps.sessions)  # running jobs' live messages move again

    dp.startup.register(resume_progress)
    dp.shutdown.register(menu.stop)
    dp.shutdown.register(_stop_progress)
    return dp


async def register_commands(bot: Bot) -> bool:
    """Set the command menu; a Bot API server without the method only costs a warning."""
    try:
        await bot.set_my_commands(COMMANDS)
    except (TelegramAPIError, AiogramError, TimeoutError) as exc:
        log.warning("could not register the command menu (%s); the bot works without it", exc)
        return False
    return True


def _backoff() -> Iterator[float]:
    """Seconds to wait before each retry of a start-up call Telegram refused: 1, 2, 4… 60."""
    delay = STARTUP_RETRY_FIRST_SECONDS
    while True:
        yield delay
        delay = min(delay * 2, STARTUP_RETRY_MAX_SECONDS)


class CommandMenu:
    """Registers the command menu in the background, retried with backoff until Telegram
    takes it: start-up never waits for it, and a refusal never stops the bot."""

    def __init__(self) -> None:
        self.task: asyncio.Task[None] | None = None

    async def start(self, bot: Bot) -> None:
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._until_registered(bot))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with suppress(asyncio.CancelledError):
                await self.task

    @staticmethod
    async def _until_registered(bot: Bot) -> None:
        for delay in _backoff():
            if await register_commands(bot):
                return
            await asyncio.sleep(delay)


async def reach_telegram(bot: Bot, stop: asyncio.Event | None = None) -> bool:
    """Ask who the bot is (`getMe`, which polling needs) until Telegram answers, waiting
    longer each time; False when `stop` was set meanwhile."""
    for delay in _backoff():
        try:
            await bot.me()
            return True
        except (TelegramAPIError, AiogramError, TimeoutError) as exc:
            log.warning("Telegram did not answer getMe (%s); trying again in %g s", exc, delay)
        if stop is None:
            await asyncio.sleep(delay)
            continue
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        if stop.is_set():
            return False
    return False


async def _stop_progress(deps: BotDeps) -> None:
    await deps.progress.aclose()


@asynccontextmanager
async def open_deps(settings: Settings) -> AsyncIterator[BotDeps]:
    """The process's clients (database, Luma pool, Temporal, Gemini), closed on the way out."""
    # Kept open: 50 chats asking at once opened and closed the pool's overflow connections at
    # every burst, a fifth of all checkouts (bench/bot.py).
    engine = engine_for(settings, ping_after_idle=PING_AFTER_IDLE_SECONDS, keep_overflow=True)
    sessions = session_factory(engine)
    budget = MeteredBudget(
        DatabaseRateBudget(
            sessions,
            BudgetPolicy.scaled(settings.luma_rate_limit, settings.luma_rate_window_seconds),
            limits=ceilings(settings.luma_rate_limit),
        )
    )
    pool = LumaPool(
        settings.luma_api_url,
        legacy_paths=settings.luma_legacy_paths,
        budget=budget,
        timeout=settings.luma_timeout_seconds,
    )
    quota = PlanQuota(sessions, Billing.from_settings(settings))
    parser = IntentParser(
        gemini=GeminiParser.from_settings(settings, timeout=settings.gemini_timeout_seconds),
        quota=quota,
    )
    rubric = rubric_reader(settings, sessions)
    try:
        automations_client = await Automations.connect(settings)
        deps = BotDeps(
            settings=settings,
            sessions=sessions,
            keybox=KeyBox(settings.resolved_encryption_keys()),
            luma=pool,
            automations=automations_client,
            parser=parser,
            rubric=rubric,
        )
        try:
            yield deps
        finally:
            await deps.progress.aclose()
    finally:
        await parser.aclose()
        if rubric is not None:
            await rubric.aclose()
        await pool.aclose()
        await engine.dispose()


@asynccontextmanager
async def _served(settings: Settings) -> AsyncIterator[None]:
    """The bot's metrics on METRICS_PORT while it polls (core.metrics)."""
    with metrics_served(settings.metrics_port, settings.metrics_host):
        yield


async def run_polling(settings: Settings, stop: asyncio.Event | None = None) -> None:
    """`lumabot bot`: long polling until SIGINT/SIGTERM (or `stop`, when another part of
    the process owns the signals), then every client closed."""
    if settings.bot_token is None:
        raise ConfigError("BOT_TOKEN is not set: create a bot with @BotFather and set BOT_TOKEN.")
    async with open_deps(settings) as deps, _served(settings):
        bot = create_bot(settings.bot_token.get_secret_value(), settings.telegram_api_url)
        dp = build_dispatcher(deps)
        # What exists now (models, routers, metadata) lives as long as the process: keep it
        # out of the collector's full passes, which a busy bot otherwise pays for often.
        gc.collect()
        gc.freeze()
        try:
            try:
                await bot.delete_webhook()  # polling and a webhook cannot both be on
            except TelegramAPIError as exc:
                log.warning("could not remove a webhook before polling: %s", exc)
            if not await reach_telegram(bot, stop):
                return
            log.info("bot polling %s", settings.telegram_api_url)
            polling = dp.start_polling(
                bot, allowed_updates=dp.resolve_used_update_types(), handle_signals=stop is None
            )
            if stop is None:
                await polling
            else:
                task = asyncio.create_task(polling)
                await stop.wait()
                await dp.stop_polling()
                await task
        finally:
            await bot.session.close()
