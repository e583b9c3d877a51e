"""CRM and Airtable sync: configure the org's connector, write one record as a test, run a
sync now, and the status with the last runs.

All of it is for admins: the token writes into the org's CRM. The token is a secret like a
Luma key: stored encrypted (`KeyBox`), redacted from the logs, and only its fingerprint (the
last four characters) is shown or audited. Runs are Temporal workflows started through
`Automations`, which joins the run already going (the schedule's too), so a click never
pushes the same people twice at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession
from temporalio.client import WorkflowHandle

from core.logs import secrets as log_secrets
from crm import NAMES
from crm import store as crm_store
from crm.base import CrmError, InvalidToken, Rejected
from crm.connectors import CONNECTORS, CrmConfig
from crm.fields import DEFAULT_MAPS, MappingError, clean_map, record_of
from intel.vip import VipRules
from intel.vip_rules import vip_rules_for
from services import audit
from services.automations import Automations
from services.caller import Caller, Conflict, Invalid, Unavailable
from store.crypto import KeyBox
from store.models import CrmSyncRun, OrgCrmConnector
from workflows import ids

NOT_SET = "No CRM connector is set up yet: an admin sets one in the portal (/web, CRM sync)."
SWITCHED_OFF = "The CRM sync is switched off; an admin can switch it on in the portal."
AIRTABLE_BASE = re.compile(r"^app[A-Za-z0-9]{14}$")
MAX_TOKEN = 400


@dataclass(frozen=True)
class CrmSettings:
    """What the portal's form sends (the token empty: keep the stored one)."""

    kind: str
    token: str = ""
    base_id: str = ""
    table: str = ""
    portal_id: str = ""
    field_map: Mapping[str, str] | None = None  # None: the connector's default mapping
    enabled: bool = True
    luma_contact_tags: bool = False  # also push our tags to Luma as contact tags


@dataclass(frozen=True)
class CrmStatus:
    connector: OrgCrmConnector | None
    runs: list[CrmSyncRun]


@dataclass(frozen=True)
class CrmRun:
    """The run that syncs now; `scheduled` when it is the schedule's run, joined."""

    handle: WorkflowHandle[Any, Any]
    scheduled: bool


def _target(form: CrmSettings) -> dict[str, str]:
    if form.kind == "airtable":
        base_id, table = form.base_id.strip(), form.table.strip()
        if not AIRTABLE_BASE.match(base_id):
            raise Invalid("An Airtable base id looks like appXXXXXXXXXXXXXX (in its API page).")
        if not table or len(table) > 100:
            raise Invalid("Name the Airtable table (its name or id, like tblXXXXXXXXXXXXXX).")
        return {"base_id": base_id, "table": table}
    portal_id = form.portal_id.strip()
    if portal_id and not portal_id.isdigit():
        raise Invalid("A HubSpot portal id is a number (Settings, Account details).")
    return {"portal_id": portal_id}


async def configure(
    caller: Caller,
    session: AsyncSession,
    *,
    automations: Automations,
    keybox: KeyBox,
    form: CrmSettings,
) -> OrgCrmConnector:
    """Store the org's connector (a new token encrypted; none keeps the stored one, for the
    same service) and set its schedule. The schedule moves inside the caller's transaction:
    the caller commits, so a refusal from Temporal leaves nothing half saved."""
    token = form.token.strip()
    if token:
        log_secrets.add(token)  # before any refusal: nothing this request logs may show it
    caller.require_admin()
    if form.kind not in CONNECTORS:
        raise Invalid(f"Choose one of: {', '.join(NAMES.values())}.")
    if len(token) > MAX_TOKEN or any(c.isspace() for c in token):
        raise Invalid("That does not look like an access token.")
    current = await crm_store.get_connector(session, org_id=caller.org_id)
    if not token and (current is None or current.kind != form.kind):
        raise Invalid(f"Paste the {NAMES[form.kind]} token.")
    try:
        field_map = clean_map(form.kind, form.field_map or DEFAULT_MAPS[form.kind])
    except MappingError as exc:
        raise Invalid(escape(str(exc))) from None
    row = await crm_store.save_connector(
        session,
        org_id=caller.org_id,
        kind=form.kind,
        token=token or None,
        keybox=keybox,
        target=_target(form),
        field_map=field_map,
        enabled=form.enabled,
        luma_contact_tags=form.luma_contact_tags,
        user_id=caller.user_id,
    )
    await audit.record(
        caller,
        session,
        "crm_configure",
        {
            "connector": row.kind,
            "token": row.token_fingerprint,
            "enabled": row.enabled,
            "luma_contact_tags": row.luma_contact_tags,
        },
    )
    await automations.set_crm_schedule(caller.org_id, row.enabled)
    return row


async def status(caller: Caller, session: AsyncSession, *, runs: int = 10) -> CrmStatus:
    """The connector (the token's fingerprint only) and the last runs with their counts."""
    caller.require_admin()
    return CrmStatus(
        await crm_store.get_connector(session, org_id=caller.org_id),
        await crm_store.recent_runs(session, org_id=caller.org_id, limit=runs),
    )


async def write_test_record(
    caller: Caller,
    session: AsyncSession,
    *,
    keybox: KeyBox,
    config: CrmConfig,
    vip_rules: VipRules,
) -> str:
    """Write the org's first profile to the service, as a sync would; its email."""
    caller.require_admin()
    row = await crm_store.get_connector(session, org_id=caller.org_id)
    if row is None:
        raise Conflict(NOT_SET)
    rules = await vip_rules_for(session, org_id=caller.org_id, defaults=vip_rules)
    people = await crm_store.people_page(
        session, org_id=caller.org_id, after="", limit=1, rules=rules
    )
    if not people:
        raise Conflict("There are no guest profiles to write yet: sync the calendar first.")
    record = record_of(row.kind, people[0], row.field_map)
    token = keybox.decrypt(row.token_ciphertext)
    async with config.client() as client:
        connector = config.connector(
            row.kind, client, token=token, target=row.target, email_field=row.field_map["email"]
        )
        try:
            await connector.upsert([record])
        except InvalidToken as exc:
            raise Invalid(escape(exc.message)) from None
        except Rejected as exc:
            raise Invalid(escape(exc.message)) from None
        except CrmError as exc:
            raise Unavailable(escape(exc.message)) from None
    await audit.record(caller, session, "crm_test_write", {"connector": row.kind})
    return record.email


async def start_run(caller: Caller, session: AsyncSession, *, automations: Automations) -> CrmRun:
    """Push the changed profiles now, or join the run going."""
    caller.require_admin()
    row = await crm_store.get_connector(session, org_id=caller.org_id)
    if row is None:
        raise Conflict(NOT_SET)
    if not row.enabled:
        raise Conflict(SWITCHED_OFF)
    handle = await automations.start_crm_sync(
        caller.org_id, chat_id=caller.chat_id, requested_by=caller.user_id
    )
    return CrmRun(handle, scheduled=handle.id != ids.crm_id(caller.org_id))
