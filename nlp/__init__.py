"""Understanding organizer messages: one intent model, a Gemini parser and an offline parser.

The bot calls `IntentParser.parse`; it gets an `Intent` and where it came from. Neither
parser performs a write: `set_status` and `bulk_status` always go through the bot's
confirmation step.
"""

from nlp.context import KnownEvent, ParseContext
from nlp.gemini import FallbackReason, GeminiFailure, GeminiParser
from nlp.intent import GuestStatus, Intent, IntentName, TargetStatus, help_examples
from nlp.offline import OfflineParser, detect_write_words
from nlp.parser import IntentParser, ParseResult, ResponseCache
from nlp.quota import CallQuota

__all__ = [
    "CallQuota",
    "FallbackReason",
    "GeminiFailure",
    "GeminiParser",
    "GuestStatus",
    "Intent",
    "IntentName",
    "IntentParser",
    "KnownEvent",
    "OfflineParser",
    "ParseContext",
    "ParseResult",
    "ResponseCache",
    "TargetStatus",
    "detect_write_words",
    "help_examples",
]
