"""Temporal activities: every piece of I/O the workflows need (Luma, database, Telegram)."""
