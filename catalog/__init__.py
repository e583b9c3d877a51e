"""What the product answers about an org's events and guests, read from the cache.

Shared by the bot and the control API: event listings and summaries, fuzzy event names,
guest lists with filters and cursors, a person's history across events, and CSV export.
Everything here reads the database only; fresh data comes from the sync workflows.
"""
