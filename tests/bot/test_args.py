"""Command arguments: trailing filters are peeled off the event's name, and only those."""

from __future__ import annotations

import pytest

from bot.args import split_filters
from bot.errors import UserError


def test_filters_are_peeled_off_the_end() -> None:
    found = split_filters("Founders Dinner pending @acme.com #vip ada@x.com")
    assert found.words == "Founders Dinner"
    assert (found.statuses, found.domains) == (["pending_approval"], ["acme.com"])
    assert (found.tags, found.emails) == (["vip"], ["ada@x.com"])


@pytest.mark.parametrize("name", ["AI Meetup #12", "Party #1!", "Hack Night #3 2026"])
def test_a_hash_number_belongs_to_the_event_name(name: str) -> None:
    found = split_filters(name)
    assert (found.words, found.tags) == (name, [])


def test_a_bad_tag_is_explained() -> None:
    with pytest.raises(UserError, match="starts with a letter"):
        split_filters("Demo Day #vip!")


@pytest.mark.parametrize(
    "text",
    [
        "Founders Dinner pending, waitlist",
        "Founders Dinner pending,waitlist",
        "Founders Dinner pending , waitlist",
        "Founders Dinner, pending, waitlist",
        "Founders Dinner pending,,waitlist,",
    ],
)
def test_filters_may_be_separated_by_commas(text: str) -> None:
    found = split_filters(text)
    assert found.words == "Founders Dinner"
    assert found.statuses == ["pending_approval", "waitlist"]


def test_commas_inside_an_event_name_stay() -> None:
    assert split_filters("Dinner, Dubai").words == "Dinner, Dubai"
    found = split_filters("Dinner, Dubai @acme.com, ada@x.com")
    assert (found.words, found.domains, found.emails) == (
        "Dinner, Dubai",
        ["acme.com"],
        ["ada@x.com"],
    )
