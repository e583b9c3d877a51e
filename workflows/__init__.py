"""Temporal workflows: deterministic orchestration only, no I/O (see `activities/`)."""
