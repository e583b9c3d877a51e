"""The default values that more than one place needs, written once.

`core.settings.Settings` takes these field defaults from here (a setting whose default no
other code needs keeps it in place), and so do the few places that must keep a default of
their own:

- the workflow input dataclasses (`workflows.contracts`): Temporal decodes them by field name
  from histories that may predate a field, so a field the starter always fills still needs a
  default to decode old runs;
- constructors used without settings (`luma.LumaPool`, `luma.BudgetPolicy`).

Everything else reads the configured value from `Settings` (config classes through their
`from_settings`), so changing a number here changes it everywhere and nothing can drift. This
module imports nothing, so that any layer may use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

# -- Luma ------------------------------------------------------------------------------------
LUMA_API_URL = "https://public-api.luma.com"
LUMA_RATE_LIMIT = 200  # requests per window for a calendar key, as Luma documents
LUMA_RATE_WINDOW_SECONDS = 60.0
LUMA_TIMEOUT_SECONDS = 20.0

# -- Database --------------------------------------------------------------------------------
# Connections a process keeps open to PostgreSQL, and how many more it may open at a peak.
# The bot handles its updates concurrently: a pool smaller than the updates in progress
# opened and closed a connection for most messages under load (bench/bot.py).
DATABASE_POOL_SIZE = 20
DATABASE_MAX_OVERFLOW = 20

# -- Control API -----------------------------------------------------------------------------
API_WORKERS = 1  # processes of `lumabot api`; one per core for a busy API
API_REQUESTS_PER_MINUTE = 120  # per API token, across every API process

# -- Temporal --------------------------------------------------------------------------------
TEMPORAL_NAMESPACE = "default"
TEMPORAL_TASK_QUEUE = "lumabot"
TEMPORAL_UI_URL = "http://127.0.0.1:8233"  # operators only: it shows every tenant's runs
PUBLIC_URL = "http://127.0.0.1:8000"  # the control API and its /web portal

# -- Metrics ---------------------------------------------------------------------------------
# The metrics servers (METRICS_PORT, TEMPORAL_METRICS_PORT) listen here unless told otherwise:
# loopback, since a scrape needs no credential (compose sets 0.0.0.0 inside its network).
METRICS_HOST = "127.0.0.1"

# -- Automations (Temporal jobs) -------------------------------------------------------------
SYNC_INTERVAL_MINUTES = 15
# With Luma's webhook registered, the scheduled sync is only a safety net (missed deliveries,
# guests Luma changed without telling): it makes a full pass this often at most; its other
# runs only check that the webhook is still there and active (one request).
WEBHOOK_SYNC_INTERVAL_MINUTES = 360
SUMMARY_DELAY_MINUTES = 120
DIGEST_TIME = "09:00"  # a chat's daily digest, local time, unless it chose another
BULK_BATCH_SIZE = 100
BULK_CONCURRENCY = 8
BULK_PAGES_PER_RESOLVE = 10  # guest-list pages read by one resolve activity
# A dead worker's batch moves to a live one this long after its last heartbeat (activities
# beat every third of it, even while waiting on Luma's budget).
HEARTBEAT_TIMEOUT_SECONDS = 10.0
FOLLOWUP_BATCH_SIZE = 50
# Pause/resume/cancel wait this long for a worker to apply them, then answer "unavailable".
JOB_CONTROL_TIMEOUT_SECONDS = 10.0
# A worker that has not polled its task queue for this long is taken for gone (a live one
# polls again at least every ~70 s, Temporal's long-poll timeout).
WORKER_SEEN_WITHIN_SECONDS = 90.0

# -- Enrichment ------------------------------------------------------------------------------
ENRICHMENT_PDL_URL = "https://api.peopledatalabs.com"
ENRICHMENT_APOLLO_URL = "https://api.apollo.io"
ENRICHMENT_TTL_DAYS = 30.0
ENRICHMENT_CONCURRENCY = 4
ENRICHMENT_MAX_WAIT_SECONDS = 30.0
ENRICHMENT_TIMEOUT_SECONDS = 10.0
ENRICHMENT_INTERVAL_HOURS = 24.0
ENRICHMENT_BATCH_SIZE = 100  # people per enrichment activity
# Longer than other jobs': one provider lookup may wait out a short Retry-After.
ENRICHMENT_HEARTBEAT_TIMEOUT_SECONDS = 60.0

# -- CRM and Airtable sync (crm/) -------------------------------------------------------------
CRM_AIRTABLE_URL = "https://api.airtable.com"
CRM_HUBSPOT_URL = "https://api.hubapi.com"
CRM_AIRTABLE_REQUESTS_PER_SECOND = 5.0  # Airtable's limit per base
CRM_HUBSPOT_REQUESTS_PER_SECOND = 10.0  # HubSpot private apps: 100 requests per 10 s
CRM_RATE_LIMIT_WAIT_SECONDS = 30.0  # after a 429 without Retry-After (Airtable asks for 30 s)
CRM_TIMEOUT_SECONDS = 15.0
CRM_INTERVAL_HOURS = 24.0
CRM_BATCH_SIZE = 100  # profiles per sync activity
CRM_BATCH_ATTEMPTS = 5  # a batch failing this often is recorded as failed; the run goes on
# Longer than other jobs': a batch may wait out a 429 (heartbeating meanwhile).
CRM_HEARTBEAT_TIMEOUT_SECONDS = 60.0

# -- Guest intelligence (intel.vip) ----------------------------------------------------------
REPEAT_MIN_EVENTS = 2
VIP_THRESHOLD = 50
VIP_POINTS_PER_ATTENDED = 10
VIP_ATTENDED_CAP = 5
VIP_ATTENDANCE_RATE = 0.8
VIP_ATTENDANCE_RATE_POINTS = 15
VIP_ATTENDANCE_RATE_MIN_EVENTS = 3
VIP_COMPANY_POINTS = 30
# Read-only: callers copy them (`dict(...)`) before keeping one of their own.
VIP_TAG_POINTS: Mapping[str, int] = MappingProxyType(
    {"vip": 100, "speaker": 50, "sponsor": 50, "press": 30}
)
VIP_SENIORITY_POINTS: Mapping[str, int] = MappingProxyType(
    {"c_suite": 40, "founder": 40, "owner": 40, "vp": 30, "director": 20}
)
