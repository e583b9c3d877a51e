# One image for every service (migrate, worker, bot, api); the command picks the role.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app

RUN useradd --create-home --uid 10001 lumabot
COPY pyproject.toml README.md alembic.ini ./
COPY core core
COPY store store
COPY luma luma
COPY nlp nlp
COPY catalog catalog
COPY activities activities
COPY workflows workflows
COPY services services
COPY bot bot
COPY api api
COPY migrations migrations
COPY cli cli
COPY intel intel
COPY mailer mailer
COPY billing billing
COPY crm crm
COPY web web
COPY worker.py ./
RUN pip install .
# standins/ (the local Luma, Telegram, Gemini, Stripe and enrichment stand-ins) is left out:
# the demo and the tests need it, production never does.

USER lumabot
ENV ENVIRONMENT=production
ENTRYPOINT ["lumabot"]
CMD ["--help"]
