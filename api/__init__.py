"""The control API: FastAPI over the same catalog and workflows the bot uses (`lumabot api`)."""
