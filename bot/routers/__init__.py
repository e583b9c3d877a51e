"""One router per feature; `bot.app` includes them in priority order."""
