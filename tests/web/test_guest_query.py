"""The guest browser's query over 50,000 guests: every filter and sort answers (how fast is
`bench/guest_pages.py`'s to say).

Pages are keyset pages: a deep page is the page after a deep row's cursor."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select, text

from catalog.guest_query import GuestSort, cursor_for
from core.settings import Settings
from intel.vip import VipRules
from store.models import Guest
from store.orgs import save_org
from store.profiles import add_tag
from web.guest_query import GuestView, browse

GUESTS = 50_000

FILL = text(
    """
    INSERT INTO guests (org_id, luma_event_id, luma_guest_id, email, normalized_email,
        email_domain, name, approval_status, company, registration_answers, is_paid,
        registered_at, fetched_at)
    SELECT :org, 'evt-big', 'gst-' || i, 'p' || i || '@d' || (i % 50) || '.com',
        'p' || i || '@d' || (i % 50) || '.com', 'd' || (i % 50) || '.com',
        'Person ' || md5(i::text),
        (ARRAY['approved', 'pending_approval', 'declined', 'waitlist'])[i % 4 + 1],
        CASE WHEN i % 7 = 0 THEN NULL ELSE 'Co ' || (i % 300) END,
        CASE WHEN i % 10 = 0
            THEN '[{"label": "Diet", "answer": "vegan"}]' ELSE '[]' END::json,
        false, now() - (i || ' minutes')::interval, now()
    FROM generate_series(1, :n) AS i
    """
)


@pytest.fixture(scope="module")
async def big_event(sessions) -> int:
    from cryptography.fernet import Fernet

    from store.crypto import KeyBox

    keybox = KeyBox([Fernet.generate_key().decode()])
    async with sessions.begin() as session:
        org = await save_org(
            session,
            calendar_id=f"cal-big-{uuid.uuid4().hex[:8]}",
            name="Big",
            luma_key="secret-big-key",
            keybox=keybox,
        )
        await session.execute(FILL, {"org": org.id, "n": GUESTS})
        for email, tag in (("p8@d8.com", "speaker"), ("p9@d9.com", "vip")):
            await add_tag(session, org_id=org.id, normalized_email=email, tag=tag, user_id=None)
        await session.execute(text("ANALYZE guests"))
        return org.id


VIEWS = {
    "first page by name": GuestView(),
    "deep page by registration, newest first": GuestView(sort="registered", desc=True),
    "status and domain, by email": GuestView(
        status="pending_approval", domain="d3.com", sort="email"
    ),
    "search, by company descending": GuestView(q="person 1a", sort="company", desc=True),
    "registration answer, by status": GuestView(question="diet", answer="vegan", sort="status"),
    "tag": GuestView(tag="speaker"),
    "deep page by name": GuestView(),
    "checked in, descending": GuestView(sort="checked_in", desc=True),
}
# The views above that start after a deep row (the 45,000th guest registered).
DEEP = {"deep page by registration, newest first", "deep page by name"}


async def browse_big(session, big_event: int, view: GuestView):
    return await browse(
        session,
        org_id=big_event,
        event_id="evt-big",
        view=view,
        rules=VipRules.from_settings(Settings(_env_file=None)),
    )


@pytest.mark.parametrize("name", list(VIEWS))
async def test_a_page_of_50000_guests_from_any_depth(sessions, big_event: int, name: str) -> None:
    view = VIEWS[name]
    async with sessions() as session:
        if name in DEEP:
            row = await session.scalar(
                select(Guest).where(Guest.org_id == big_event, Guest.luma_guest_id == "gst-45000")
            )
            assert row is not None
            sort = view.guest_sort()
            value = row.registered_at if sort.key == "registered_at" else row.name.lower()
            view = GuestView(**{**vars(view), "after": cursor_for(sort, value, row.id)})
        found = await browse_big(session, big_event, view)
    assert found.total > 0 and found.guests
    if name in DEEP:
        assert found.prev_cursor and found.next_cursor


async def test_filters_sort_and_count_correctly(sessions, big_event: int) -> None:
    async with sessions() as session:
        found = await browse_big(
            session,
            big_event,
            GuestView(status="pending_approval", domain="d3.com", sort="email"),
        )
        rows = found.guests
        assert found.total == 500  # i = 3 (mod 50) and i = 1 (mod 4): one in 100
        assert {g.approval_status for g in rows} == {"pending_approval"}
        assert {g.email_domain for g in rows} == {"d3.com"}
        assert [g.email for g in rows] == sorted(g.email for g in rows)
        following = await browse_big(
            session,
            big_event,
            GuestView(
                status="pending_approval", domain="d3.com", sort="email", after=found.next_cursor
            ),
        )
        assert following.guests[0].email > rows[-1].email
        newest = await browse_big(session, big_event, GuestView(sort="registered", desc=True))
        stamps = [g.registered_at for g in newest.guests]
        assert stamps == sorted(stamps, reverse=True)
        tagged = await browse_big(session, big_event, GuestView(tag="speaker"))
        assert tagged.total == 1 and tagged.guests[0].email == "p8@d8.com"
        vegan = await browse_big(session, big_event, GuestView(question="diet", answer="vegan"))
        assert vegan.total == GUESTS // 10
        # The answer of a named question, not the JSON text of every answer: "answer" is a
        # key of each stored answer, yet nobody answered "Diet" with it.
        keyword = await browse_big(session, big_event, GuestView(question="diet", answer="answer"))
        assert keyword.total == 0
        # An answer without its question is ignored (and the page says so).
        loose = await browse_big(session, big_event, GuestView(answer="vegan"))
        assert loose.total == GUESTS and GuestView(answer="vegan").answer_ignored
        # Search covers the company too.
        company = await browse_big(session, big_event, GuestView(q="co 299"))
        assert company.total > 0 and {g.company for g in company.guests} == {"Co 299"}
        # An old link's cursor of another sort shows the first page instead of failing.
        stale = await browse_big(session, big_event, GuestView(sort="name", after="garbage"))
        assert stale.guests and stale.prev_cursor is None
        # Another org sees none of them.
        none = await browse(
            session,
            org_id=big_event + 10_000,
            event_id="evt-big",
            view=GuestView(),
            rules=VipRules.from_settings(Settings(_env_file=None)),
        )
        assert none.total == 0


async def test_vip_filter_scores_the_events_people(sessions, big_event: int) -> None:
    """VIPs are scored in Python (intel.vip), from the event's people and their tags."""
    view = GuestView(vip=True, sort="email")
    async with sessions() as session:
        found = await browse_big(session, big_event, view)
    # 100 points for the vip tag reach the threshold; a speaker's 50 do too (threshold 50).
    assert [g.email for g in found.guests] == ["p8@d8.com", "p9@d9.com"] and found.total == 2


def test_view_round_trips_through_its_url_and_ignores_garbage() -> None:
    view = GuestView.from_params(
        {
            "q": " Ada ",
            "status": "approved",
            "sort": "email",
            "desc": "1",
            "after": "abc",
            "repeat": "1",
        }
    )
    assert GuestView.from_params(view.params()) == view
    assert view.sort_query("email").count("desc") == 0  # flips to ascending
    assert "after" not in view.sort_query("email")  # a new order starts at its first page
    junk = GuestView.from_params({"sort": "drop table", "page": "-4", "desc": "maybe"})
    assert (junk.sort, junk.after, junk.desc) == ("name", "", False)
    assert junk.guest_sort() == GuestSort("name", False)
    assert GuestView(sort="registered", desc=True).guest_sort() == GuestSort("registered_at", True)
    # Every part of the view is the bulk job's filter too: nothing travels as an email list.
    wanted = GuestView(
        q="ada", status="approved", tag="speaker", vip=True, question="diet", answer="vegan"
    ).guest_filter()
    assert (wanted.search, wanted.statuses, wanted.tags, wanted.vip) == (
        "ada",
        ["approved"],
        ["speaker"],
        True,
    )
    assert (wanted.answer_label, wanted.answer_value) == ("diet", "vegan")
