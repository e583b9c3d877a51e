"""The throttle holds across bot processes: two dispatchers, each with its own connections to
the shared database, take turns with one person's updates (as webhook processes behind a
balancer would) and together allow the person's rate once, with one "slow down"."""

from __future__ import annotations

from dataclasses import fields

from aiogram.types import Update

from bot.app import BotDeps, build_dispatcher
from bot.middlewares.throttling import ThrottleLimits
from store.db import create_engine, session_factory
from tests.bot.conftest import new_group_id, new_user_id
from tests.request_limits import COUNTING_WINDOW, clear_of_window_edge


def _deps(deps: BotDeps, **overrides: object) -> BotDeps:
    return BotDeps(
        **{**{f.name: getattr(deps, f.name) for f in fields(deps) if f.init}, **overrides}
    )


async def test_two_bot_processes_share_the_throttle(services, db_url) -> None:
    limits = ThrottleLimits(per_user=3, per_chat=4, window_seconds=COUNTING_WINDOW)
    engine = create_engine(db_url)  # the second process's own connections
    deps = [
        _deps(services.deps, throttle=limits),
        _deps(services.deps, throttle=limits, sessions=session_factory(engine)),
    ]
    dispatchers = [build_dispatcher(each) for each in deps]
    tg, account = services.api.state, services.api.state.default_bot
    person, chat = new_user_id(), new_group_id()
    others = [new_user_id() for _ in range(4)]
    tg.add_chat(chat, title="Shared throttle")
    turns = iter(range(100))

    async def says(user: int, where: int) -> None:
        payload = tg.user_says(where, user, "/help")
        account.confirm(account.next_update_id)  # fed here, not polled
        update = Update.model_validate(payload, context={"bot": services.bot})
        await dispatchers[next(turns) % 2].feed_update(services.bot, update)

    await clear_of_window_edge(COUNTING_WINDOW, margin=300)
    try:
        for _ in range(5):  # a DM: the person's own limit, 3 across both processes
            await says(person, person)
        await says(person, chat)  # still over: refused, silently, and not counted for the group
        for other in others[:2] * 2:  # the group's limit of 4 across both processes
            await says(other, chat)
        for other in others[2:]:  # the group is over: one "slow down", then silence
            await says(other, chat)
    finally:
        await engine.dispose()
        for each in deps:
            await each.progress.aclose()
    dm = [message.text.split("\n")[0] for message in tg.messages(person)]
    assert dm[:3] == ["What I can do"] * 3 and len(dm) == 4, dm
    assert dm[3].startswith("Slow down a little, please")
    group = [message.text.split("\n")[0] for message in tg.messages(chat)]
    assert group[:4] == ["What I can do"] * 4 and len(group) == 5, group
    assert group[4].startswith("Slow down a little, please")
