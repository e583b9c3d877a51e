"""Cross-cutting basics shared by every process: settings and logging."""
