"""Invite lists in the portal: a pasted list or a CSV previewed (new, already registered, not
valid, repeated), then started as the durable job that adds the new guests in Luma and
accounts for every address on its page."""

from __future__ import annotations

import html
import re
from collections import Counter
from typing import Any

from sqlalchemy import select
from temporalio.client import Client

from services.automations import Automations
from services.automations.client import JobDefaults
from store.models import InviteItem, Role
from tests.api.conftest import synced_event
from tests.web.conftest import csrf_of
from workflows import ids


def _start_form(page: str) -> dict[str, str]:
    """What the preview's Start form posts (hidden inputs and the hidden list)."""
    form = page.split('id="start-form"', 1)[1].split("</form>", 1)[0]
    fields = {
        name: html.unescape(value)
        for name, value in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', form)
    }
    listed = re.search(r'<textarea name="text"[^>]*>(.*?)</textarea>', form, re.DOTALL)
    if listed:
        fields["text"] = html.unescape(listed.group(1))
    return fields


def _count(page: str, what: str) -> int:
    found = re.search(rf'id="{what}">(\d+)<', page)
    assert found, what
    return int(found.group(1))


async def _start_and_finish(admin, portal, automations, url: str, preview) -> tuple[Any, Any, Any]:
    """Press Start on a preview; the redirect, the job's handle and its finished totals."""
    started = await admin.post(f"{url}/start", data=_start_form(preview.text))
    assert started.status_code == 303, started.text
    job_id = started.headers["location"].rsplit("/", 1)[1]
    event_id = url.split("/")[3]
    handle = automations.client.get_workflow_handle(
        ids.invite_id(portal.org.org_id, event_id, job_id)
    )
    return started, handle, await handle.result()


async def _states(portal, job_id: str) -> Counter[str]:
    async with portal.sessions() as session:
        return Counter(
            await session.scalars(select(InviteItem.state).where(InviteItem.job_id == job_id))
        )


async def test_a_pasted_list_is_previewed_then_added(portal, simulator, automations) -> None:
    event_id = await synced_event(simulator, automations, portal.org, name="Invite Day", guests=3)
    event = simulator.state.event(event_id)
    registered = next(iter(event.guests.values())).person.email
    new = ["ada@invitees.example", "grace@invitees.example", "alan@invitees.example"]
    text = (
        f"Ada Lovelace <{new[0]}>, {new[1]}\n"
        f"{registered}\n"
        "not-an-address; bob@\n"
        f"{new[2]}\n"
        f"{new[0].upper()}\n"  # the same inbox again
    )
    url = f"/web/events/{event_id}/invites"
    async with portal.signed_in(Role.ADMIN) as admin:
        guests = await admin.get(f"/web/events/{event_id}/guests")
        assert f'href="{url}"' in guests.text  # linked from the event's pages
        form = await admin.get(url)
        assert form.status_code == 200 and 'id="invite-form"' in form.text
        token = csrf_of(form.text)
        writes = len(simulator.state.writes)
        preview = await admin.post(
            f"{url}/preview", data={"csrf": token, "text": text, "how": "add"}
        )
        assert preview.status_code == 200, preview.text
        counts = {
            what: _count(preview.text, f"count-{what}")
            for what in ("new", "already", "invalid", "duplicates")
        }
        assert counts == {"new": 3, "already": 1, "invalid": 2, "duplicates": 1}
        assert "not-an-address" in preview.text and "Ada Lovelace" in preview.text
        assert "Start: add 3 as going" in preview.text
        assert len(simulator.state.writes) == writes  # a preview sends nothing
        async with portal.sessions() as session:
            assert not await session.scalar(
                select(InviteItem.id).where(InviteItem.luma_event_id == event_id)
            )

        started, handle, totals = await _start_and_finish(admin, portal, automations, url, preview)
        job_id = started.headers["location"].rsplit("/", 1)[1]
        assert totals["counts"] == {"added": 3, "already": 1, "invalid": 2}
        assert all(event.by_email[email].approval_status == "approved" for email in new)
        assert await _states(portal, job_id) == Counter({"added": 3, "already": 1, "invalid": 2})

        done = await admin.get(started.headers["location"])
        assert done.status_code == 200
        assert "Done: all 6 address(es) accounted for" in done.text
        assert _count(done.text, "invite-added") == 3 and _count(done.text, "invite-invalid") == 2
        assert f'href="/web/jobs/{handle.id}"' in done.text
        job_page = await admin.get(f"/web/jobs/{handle.id}")
        assert job_page.status_code == 200 and "completed" in job_page.text
    async with portal.signed_in(Role.MEMBER) as member:  # members read the outcome
        assert (await member.get(started.headers["location"])).status_code == 200
        made_up = await member.get(f"{url}/{'0' * 16}")
        assert made_up.status_code == 404


async def test_a_csv_upload_is_previewed_and_invited(portal, simulator, automations) -> None:
    event_id = await synced_event(simulator, automations, portal.org, name="CSV Day", guests=2)
    event = simulator.state.event(event_id)
    csv_data = (
        "Name;Email;Company\r\n"
        "Zoë Ünicode;zoe@csv.example;Acme\r\n"
        "Kim;kim@csv.example;Beta\r\n"
        "Nobody;nope;Gamma\r\n"
        "Kim again;KIM@csv.example;Beta\r\n"
    ).encode()
    url = f"/web/events/{event_id}/invites"
    async with portal.signed_in(Role.ADMIN) as admin:
        token = csrf_of((await admin.get(url)).text)
        both = await admin.post(
            f"{url}/preview",
            data={"csrf": token, "text": "a@b.example", "how": "add"},
            files={"file": ("list.csv", csv_data, "text/csv")},
        )
        assert both.status_code == 400 and "not both" in both.text
        nothing = await admin.post(f"{url}/preview", data={"csrf": token, "how": "add"})
        assert nothing.status_code == 400 and "No addresses" in nothing.text
        preview = await admin.post(
            f"{url}/preview",
            data={"csrf": token, "how": "invite"},
            files={"file": ("list.csv", csv_data, "text/csv")},
        )
        assert preview.status_code == 200, preview.text
        assert [
            _count(preview.text, f"count-{what}")
            for what in ("new", "already", "invalid", "duplicates")
        ] == [2, 0, 1, 1]
        assert "Start: send 2 invitation(s)" in preview.text and "Zoë Ünicode" in preview.text
        _, _, totals = await _start_and_finish(admin, portal, automations, url, preview)
        assert totals["counts"] == {"added": 2, "invalid": 1}
    invited = [
        w.email
        for w in simulator.state.writes
        if w.endpoint == "send-invites" and w.event_id == event_id
    ]
    assert sorted(invited) == ["kim@csv.example", "zoe@csv.example"]
    assert {event.by_email[email].approval_status for email in invited} == {"invited"}


async def test_temporal_down_shows_a_page_and_leaves_no_waiting_job(
    portal, simulator, automations
) -> None:
    event_id = await synced_event(simulator, automations, portal.org, name="Outage Day", guests=1)
    url = f"/web/events/{event_id}/invites"
    deps = portal.app.state.deps
    async with portal.signed_in(Role.ADMIN) as admin:
        token = csrf_of((await admin.get(url)).text)
        preview = await admin.post(
            f"{url}/preview", data={"csrf": token, "text": "ada@outage.example", "how": "add"}
        )
        dead = await Client.connect("127.0.0.1:1", lazy=True)
        working, deps.automations = deps.automations, Automations(dead, JobDefaults())
        try:
            started = await admin.post(f"{url}/start", data=_start_form(preview.text))
        finally:
            deps.automations = working
    assert started.status_code == 503
    assert started.headers["content-type"].startswith("text/html")
    assert "Temporal is unreachable" in started.text
    async with portal.sessions() as session:  # nothing staged is left waiting
        assert not await session.scalar(
            select(InviteItem.id).where(InviteItem.luma_event_id == event_id)
        )
    assert not [w for w in simulator.state.writes if w.event_id == event_id]
