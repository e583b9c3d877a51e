"""The simulator keeps its Luma data in a file, as the demo needs across restarts."""

from __future__ import annotations

from pathlib import Path

from standins.luma import SimulatorConfig, SimulatorState
from standins.luma.persist import Snapshots

CONFIG = SimulatorConfig(calendars=1, events_per_calendar=2, guests_per_event=20)


def _approve_first_pending(state: SimulatorState) -> tuple[str, str]:
    calendar = state.calendar(state.calendars[0].id)
    for event in calendar.events.values():
        for guest in event.guests.values():
            if guest.approval_status != "approved":
                state.update_guest_status(
                    calendar, event, guest, "approved", should_refund=False, path="/test"
                )
                return event.id, guest.id
    raise AssertionError("the seed has no guest to approve")


def test_a_restart_finds_the_writes_and_makes_no_repeated_ids(tmp_path: Path) -> None:
    path = tmp_path / "sim.pickle"
    first = SimulatorState(CONFIG)
    snapshots = Snapshots(first, path)
    assert "seeded" in snapshots.restore()
    event_id, guest_id = _approve_first_pending(first)
    calendar = first.calendar(first.calendars[0].id)
    first.add_guests(
        calendar, first.event(event_id), [("new@x.test", "New")], status="approved", path="/t"
    )
    snapshots.save()

    second = SimulatorState(CONFIG)
    assert Snapshots(second, path).restore() == f"restored from {path}"
    event = second.event(event_id)
    assert event.guests[guest_id].approval_status == "approved"
    assert event.by_email["new@x.test"].approval_status == "approved"
    second.add_guests(
        second.calendar(calendar.id), event, [("other@x.test", None)], status="approved", path="/t"
    )
    # The id generator went on from where the first run stopped.
    assert event.by_email["other@x.test"].id != event.by_email["new@x.test"].id
    assert second.calendars[0].api_key == first.calendars[0].api_key


def test_organizations_and_their_keys_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "sim.pickle"
    first = SimulatorState(CONFIG)
    snapshots = Snapshots(first, path)
    snapshots.restore()
    snapshots.save()
    organization = first.add_organization("Kept Org", calendars=2)  # no events: still a change
    snapshots.save()

    second = SimulatorState(CONFIG)
    Snapshots(second, path).restore()
    assert second.organizations == [organization]
    assert second.admit(organization.api_key).principal.id == organization.id


def test_an_unreadable_file_is_set_aside_and_the_seed_used(tmp_path: Path) -> None:
    path = tmp_path / "sim.pickle"
    path.write_bytes(b"not a pickle")
    state = SimulatorState(CONFIG)
    said = Snapshots(state, path).restore()
    assert said.startswith("seeded data") and "unreadable" in said
    assert (tmp_path / "sim.unreadable").read_bytes() == b"not a pickle"
    assert not path.exists()
