"""The `lumabot` command: one entry point for people and scripts."""
