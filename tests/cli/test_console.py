"""The demo console shows what Telegram would let a user tap: text links and URL buttons."""

from __future__ import annotations

from cli.console import Transcript, _render, with_links


def test_text_links_show_their_address_after_their_words() -> None:
    text = "📈 Open the portal, then the job"  # the emoji is two UTF-16 code units
    entities = [
        {"type": "bold", "offset": 0, "length": 2},
        {"type": "text_link", "offset": 12, "length": 6, "url": "http://x/web"},
        {"type": "text_link", "offset": 29, "length": 3, "url": "http://t/job"},
    ]
    assert with_links(text, entities) == (
        "📈 Open the portal <http://x/web>, then the job <http://t/job>"
    )


def test_url_buttons_are_printed_as_links_and_callback_buttons_numbered() -> None:
    event = {
        "kind": "sent",
        "message": {
            "message_id": 7,
            "text": "Founders Dinner",
            "reply_markup": {
                "inline_keyboard": [
                    [{"text": "Open in Luma", "url": "https://lu.ma/x"}],
                    [{"text": "Guests", "callback_data": "g:1"}],
                ]
            },
        },
    }
    transcript = Transcript()
    assert _render(event, transcript) == (
        "bot> Founders Dinner\n       ↗ Open in Luma: https://lu.ma/x\n     [1] Guests"
    )
    assert transcript.buttons == [("Guests", 7, "g:1")]
