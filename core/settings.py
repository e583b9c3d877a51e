"""Process configuration, read once from the environment (and `.env`).

Everything configurable lives here so that no module reads `os.environ` on its own; the
same code talks to the real Luma, Telegram and Gemini or to local stand-ins, depending only
on the URLs set here.
"""

from __future__ import annotations

import logging
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Annotated

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core import defaults

DATA_DIR = Path("data")
DEV_KEY_FILE = DATA_DIR / "dev-encryption.key"
KEY_HELP = (
    "Generate one with: python -c 'from cryptography.fernet import Fernet; "
    "print(Fernet.generate_key().decode())' and set ENCRYPTION_KEYS to it."
)


class Environment(StrEnum):
    DEVELOPMENT = "development"
    PRODUCTION = "production"


class MailBackend(StrEnum):
    OFF = "off"
    SMTP = "smtp"
    SENDGRID = "sendgrid"


class LogFormat(StrEnum):
    TEXT = "text"
    JSON = "json"  # one JSON object a line, with org, chat, workflow and run ids


class ConfigError(ValueError):
    """Configuration that must be fixed before the product can start; the text says how."""


class Settings(BaseSettings):
    """Every setting, with the default that makes the embedded demo work untouched.

    Defaults that other code also needs (workflow inputs, Luma's limits) come from
    `core.defaults`, so that each is written once.
    """

    # An empty value (`SMTP_USER=` as in .env.example) means unset, not an empty string.
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", env_ignore_empty=True)

    environment: Environment = Environment.DEVELOPMENT
    log_level: str = "INFO"
    log_format: LogFormat = LogFormat.TEXT

    # Metrics (core.metrics): each process serves its own at METRICS_HOST:METRICS_PORT/metrics
    # (unset: no server), the worker the Temporal SDK's at TEMPORAL_METRICS_PORT (unset: none).
    metrics_port: int | None = Field(None, ge=1, le=65535)
    temporal_metrics_port: int | None = Field(None, ge=1, le=65535)
    metrics_host: str = defaults.METRICS_HOST
    # The API's GET /metrics wants `Authorization: Bearer <METRICS_TOKEN>` when set; unset, it
    # is open in development and absent (404) in production (scrape METRICS_PORT instead).
    metrics_token: SecretStr | None = None

    bot_token: SecretStr | None = None
    telegram_api_url: str = "https://api.telegram.org"

    gemini_api_key: SecretStr | None = None
    gemini_api_url: str | None = None
    gemini_model: str = "gemini-2.5-flash"
    gemini_timeout_seconds: float = Field(4.0, gt=0)
    gemini_daily_quota: int = Field(200, ge=0)  # questions per org per day
    # An approval rubric call judges up to 20 guests at once: it may take longer than a question.
    gemini_rubric_timeout_seconds: float = Field(20.0, gt=0)
    # How long a chat remembers the last event, filter and answer of each person, for
    # follow-ups ("and the waitlisted ones?", "approve them"); after that the bot asks.
    context_minutes: float = Field(10.0, gt=0)

    luma_api_url: str = defaults.LUMA_API_URL
    luma_legacy_paths: bool = False
    # requests per window per calendar key
    luma_rate_limit: int = Field(defaults.LUMA_RATE_LIMIT, ge=1)
    luma_rate_window_seconds: float = Field(defaults.LUMA_RATE_WINDOW_SECONDS, gt=0)
    luma_timeout_seconds: float = Field(defaults.LUMA_TIMEOUT_SECONDS, gt=0)

    # The control API: worker processes of `lumabot api` (one per core is what a busy API
    # wants), and the requests a minute one API token may make (counted across processes).
    api_workers: int = Field(defaults.API_WORKERS, ge=1, le=64)
    api_requests_per_minute: int = Field(defaults.API_REQUESTS_PER_MINUTE, ge=1)

    database_url: str = f"sqlite+aiosqlite:///./{DATA_DIR}/lumabot.db"
    database_pool_size: int = Field(defaults.DATABASE_POOL_SIZE, ge=1)
    database_max_overflow: int = Field(defaults.DATABASE_MAX_OVERFLOW, ge=0)
    encryption_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = defaults.TEMPORAL_NAMESPACE
    temporal_task_queue: str = defaults.TEMPORAL_TASK_QUEUE
    temporal_ui_url: str = defaults.TEMPORAL_UI_URL
    # Keys of the Temporal payload codec (core.payload_codec); unset: ENCRYPTION_KEYS.
    temporal_payload_keys: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # The operator's credential for the codec endpoint (/codec/decode); unset: no endpoint.
    operator_token: SecretStr | None = None

    # Where people reach the control API: the /web portal's sign-in links, Stripe's return
    # pages and the unsubscribe links in follow-up emails all point here.
    public_url: str = defaults.PUBLIC_URL
    web_session_hours: int = Field(12, ge=1, le=24 * 30)

    # Billing (billing/): off without STRIPE_API_KEY, and then every org has DEFAULT_PLAN.
    stripe_api_key: SecretStr | None = None
    stripe_webhook_secret: SecretStr | None = None
    stripe_api_base: str | None = None  # another Stripe API endpoint (tests' fake)
    billing_plans_file: Path | None = None  # plans as JSON; billing/plans.json when unset
    default_plan: str = "team"

    # Follow-up emails (mailer/): off by default; MAIL_FROM is required once a backend is on.
    # Unsubscribe links point at PUBLIC_URL/unsubscribe/<signed token>.
    mail_backend: MailBackend = MailBackend.OFF
    mail_from: str = ""
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    sendgrid_api_key: SecretStr | None = None
    sendgrid_api_url: str = "https://api.sendgrid.com"
    followup_batch_size: int = Field(defaults.FOLLOWUP_BATCH_SIZE, ge=1, le=1000)
    # An org's own Gmail as its sender (mailer.gmail): on once the OAuth client is set. The
    # URLs are Google's; tests point them at standins.gmail.
    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    google_oauth_url: str = "https://accounts.google.com/o/oauth2/v2/auth"
    google_token_url: str = "https://oauth2.googleapis.com/token"
    google_revoke_url: str = "https://oauth2.googleapis.com/revoke"
    gmail_api_url: str = "https://gmail.googleapis.com"
    # How long a campaign waits after Gmail's daily limit when Gmail names no retry time.
    gmail_limit_wait_minutes: float = Field(24 * 60, gt=0)

    sync_interval_minutes: int = Field(defaults.SYNC_INTERVAL_MINUTES, ge=1)
    summary_delay_minutes: int = Field(defaults.SUMMARY_DELAY_MINUTES, ge=0)
    bulk_batch_size: int = Field(defaults.BULK_BATCH_SIZE, ge=1, le=1000)
    bulk_concurrency: int = Field(defaults.BULK_CONCURRENCY, ge=1, le=64)
    heartbeat_timeout_seconds: float = Field(defaults.HEARTBEAT_TIMEOUT_SECONDS, gt=0)
    job_control_timeout_seconds: float = Field(defaults.JOB_CONTROL_TIMEOUT_SECONDS, gt=0)

    # Enrichment (intel.enrichment): each org enables it with its own provider key (/enrich).
    enrichment_pdl_url: str = defaults.ENRICHMENT_PDL_URL
    enrichment_apollo_url: str = defaults.ENRICHMENT_APOLLO_URL
    # a cached answer is reused this long
    enrichment_ttl_days: float = Field(defaults.ENRICHMENT_TTL_DAYS, gt=0)
    # lookups in flight per run
    enrichment_concurrency: int = Field(defaults.ENRICHMENT_CONCURRENCY, ge=1, le=32)
    # longer 429 waits: retry later
    enrichment_max_wait_seconds: float = Field(defaults.ENRICHMENT_MAX_WAIT_SECONDS, ge=0)
    # one provider request
    enrichment_timeout_seconds: float = Field(defaults.ENRICHMENT_TIMEOUT_SECONDS, gt=0)
    # the per-org schedule
    enrichment_interval_hours: float = Field(defaults.ENRICHMENT_INTERVAL_HOURS, gt=0)

    # CRM and Airtable sync (crm/): each org configures its connector and token in the portal.
    crm_airtable_url: str = defaults.CRM_AIRTABLE_URL
    crm_hubspot_url: str = defaults.CRM_HUBSPOT_URL
    # requests a second we send (Airtable allows 5 per base)
    crm_airtable_requests_per_second: float = Field(defaults.CRM_AIRTABLE_REQUESTS_PER_SECOND, gt=0)
    crm_hubspot_requests_per_second: float = Field(defaults.CRM_HUBSPOT_REQUESTS_PER_SECOND, gt=0)
    # wait after a 429 that names no Retry-After
    crm_rate_limit_wait_seconds: float = Field(defaults.CRM_RATE_LIMIT_WAIT_SECONDS, ge=0)
    crm_timeout_seconds: float = Field(defaults.CRM_TIMEOUT_SECONDS, gt=0)  # one request
    crm_interval_hours: float = Field(defaults.CRM_INTERVAL_HOURS, gt=0)  # the per-org schedule

    # Guest intelligence (intel.vip): who counts as a repeat guest and how VIPs are scored.
    # registrations that make a repeat guest
    repeat_min_events: int = Field(defaults.REPEAT_MIN_EVENTS, ge=2)
    vip_threshold: int = Field(defaults.VIP_THRESHOLD, ge=1)  # a score at least this is a VIP
    vip_points_per_attended: int = Field(defaults.VIP_POINTS_PER_ATTENDED, ge=0)
    vip_attended_cap: int = Field(defaults.VIP_ATTENDED_CAP, ge=1)  # attendances counted at most
    # show-up rate that earns points
    vip_attendance_rate: float = Field(defaults.VIP_ATTENDANCE_RATE, gt=0, le=1)
    vip_attendance_rate_points: int = Field(defaults.VIP_ATTENDANCE_RATE_POINTS, ge=0)
    # past approvals before the rate counts
    vip_attendance_rate_min_events: int = Field(defaults.VIP_ATTENDANCE_RATE_MIN_EVENTS, ge=1)
    vip_tag_points: dict[str, int] = Field(default_factory=lambda: dict(defaults.VIP_TAG_POINTS))
    vip_companies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    vip_company_points: int = Field(defaults.VIP_COMPANY_POINTS, ge=0)
    vip_seniority_points: dict[str, int] = Field(
        default_factory=lambda: dict(defaults.VIP_SENIORITY_POINTS)
    )

    @field_validator("encryption_keys", "temporal_payload_keys", "vip_companies", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if not isinstance(logging.getLevelName(level), int):
            raise ValueError(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {value!r}")
        return level

    @model_validator(mode="after")
    def _keys_usable(self) -> Settings:
        for position, key in enumerate(self.encryption_keys, start=1):
            if not is_strong_key(key.get_secret_value()):
                raise ConfigError(
                    f"ENCRYPTION_KEYS entry {position} is not a valid 32-byte Fernet key. "
                    + KEY_HELP
                )
        for position, key in enumerate(self.temporal_payload_keys, start=1):
            if not is_strong_key(key.get_secret_value()):
                raise ConfigError(
                    f"TEMPORAL_PAYLOAD_KEYS entry {position} is not a valid 32-byte Fernet key. "
                    + KEY_HELP.replace("ENCRYPTION_KEYS", "TEMPORAL_PAYLOAD_KEYS")
                )
        if not self.encryption_keys and self.environment is not Environment.DEVELOPMENT:
            raise ConfigError("ENCRYPTION_KEYS is required outside development. " + KEY_HELP)
        return self

    @model_validator(mode="after")
    def _operator_token_strong(self) -> Settings:
        if self.operator_token is not None and len(self.operator_token.get_secret_value()) < 32:
            raise ConfigError(
                "OPERATOR_TOKEN must be at least 32 characters. Generate one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(32))'"
            )
        return self

    @model_validator(mode="after")
    def _mail_usable(self) -> Settings:
        if self.mail_backend is MailBackend.OFF:
            return self
        if "@" not in self.mail_from:
            raise ConfigError(
                "MAIL_FROM must be the sender's address (e.g. Events <events@example.com>) "
                f"when MAIL_BACKEND is {self.mail_backend.value}."
            )
        if self.mail_backend is MailBackend.SENDGRID and self.sendgrid_api_key is None:
            raise ConfigError("MAIL_BACKEND=sendgrid needs SENDGRID_API_KEY.")
        return self

    @model_validator(mode="after")
    def _google_client_whole(self) -> Settings:
        if (self.google_client_id is None) != (self.google_client_secret is None):
            raise ConfigError(
                "GOOGLE_CLIENT_ID and GOOGLE_CLIENT_SECRET go together (the OAuth client of "
                "'Send from Gmail'): set both, or neither."
            )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def secret_values(self) -> list[str]:
        """Every secret this process knows of, for the log redactor."""
        secrets = [key.get_secret_value() for key in self.encryption_keys]
        secrets += [key.get_secret_value() for key in self.temporal_payload_keys]
        for secret in (
            self.operator_token,
            self.metrics_token,
            self.bot_token,
            self.gemini_api_key,
            self.stripe_api_key,
            self.stripe_webhook_secret,
            self.smtp_password,
            self.sendgrid_api_key,
            self.google_client_secret,
        ):
            if secret is not None:
                secrets.append(secret.get_secret_value())
        return secrets

    def resolved_encryption_keys(self) -> list[str]:
        """The configured keys; in development only, a generated key kept under ./data.

        The development key lets `make demo` run with nothing configured while keeping
        stored Luma keys readable across restarts.
        """
        if self.encryption_keys:
            return [key.get_secret_value() for key in self.encryption_keys]
        if self.environment is not Environment.DEVELOPMENT:
            raise ConfigError("ENCRYPTION_KEYS is required outside development. " + KEY_HELP)
        if not DEV_KEY_FILE.exists():
            DEV_KEY_FILE.parent.mkdir(parents=True, exist_ok=True)
            DEV_KEY_FILE.write_bytes(Fernet.generate_key())
            DEV_KEY_FILE.chmod(0o600)
        return [DEV_KEY_FILE.read_text().strip()]

    def resolved_payload_keys(self) -> list[str]:
        """The Temporal payload codec's keys: TEMPORAL_PAYLOAD_KEYS, else the encryption keys.

        A list of its own lets Temporal keep an old key while histories it encrypted are
        retained, after the database has moved on with `lumabot rotate-keys`.
        """
        if self.temporal_payload_keys:
            return [key.get_secret_value() for key in self.temporal_payload_keys]
        return self.resolved_encryption_keys()


def is_strong_key(key: str) -> bool:
    """A usable key is a Fernet key: 32 random bytes, url-safe base64 encoded."""
    try:
        Fernet(key.encode())
    except (ValueError, TypeError):
        return False
    return True


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process settings; a bad value becomes one readable ConfigError."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = ".".join(str(part) for part in error["loc"]).upper() or "settings"
            message = str(error["msg"]).removeprefix("Value error, ")
            problems.append(f"{field}: {message}" if error["loc"] else message)
        raise ConfigError("; ".join(problems)) from None
