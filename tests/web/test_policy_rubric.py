"""The rubric set in the portal, and the portal's dry run showing its reasons beside the
rules' (the fake Gemini endpoint answers; nothing is written to Luma)."""

from __future__ import annotations

from dataclasses import replace

from store.models import Role
from tests.api.conftest import synced_event
from tests.api.test_policy_rubric import RUBRIC, registered, rubric_reader, screener
from tests.api.test_policy_runs import status_writes
from tests.nlp import conftest as nlp_fixtures
from tests.web.conftest import csrf_of

fake_gemini, _running_gemini = nlp_fixtures.fake_gemini, nlp_fixtures._running_gemini


async def test_the_dry_run_shows_the_rubrics_reasons(
    portal, simulator, automations, fake_gemini
) -> None:
    portal.app.state.deps = replace(portal.app.state.deps, rubric=rubric_reader(fake_gemini))
    fake_gemini.responder = screener
    event_id = await synced_event(simulator, automations, portal.org, name="AI Night", guests=0)
    registered(simulator, portal.org, event_id)
    url = f"/web/events/{event_id}/policy"
    async with portal.signed_in(Role.ADMIN) as admin:
        token = csrf_of((await admin.get(url)).text)
        added = await admin.post(
            f"{url}/rules/add", data={"csrf": token, "rule": "approve from acme.com"}
        )
        assert added.status_code == 303
        saved = await admin.post(f"{url}/rubric", data={"csrf": token, "rubric": RUBRIC})
        assert saved.status_code == 303
        tested = await admin.get(f"{url}?test=1")
        assert tested.status_code == 200
        assert "Test: 7 pending guest(s), nothing written" in tested.text
        assert "approve 2" in tested.text and "hold 5" in tested.text
        for reason in (
            "rule 1: approve email at acme.com",
            "rubric (92% sure): AI founder",
            "rubric (90% sure): a student",
            "rubric would decline; it may not decline on its own",
        ):
            assert reason in tested.text, reason
        assert "it never declines" in tested.text
    assert status_writes(simulator, event_id) == {}
