"""CRM and Airtable sync: the connector (service, token shown by its last four characters,
base and table or HubSpot portal, field mapping), a test write, a run now, and the last runs
with their counts and failed batches.

Admins only (the token writes into the org's CRM). The rules are `services.crm`'s; this page
reads the form and shows the outcome.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request

from crm import NAMES
from crm.connectors import CrmConfig
from crm.fields import DEFAULT_MAPS, FIELDS
from services import crm
from services.caller import Forbidden
from services.crm import CrmSettings
from web.auth import Viewer
from web.caller import caller_of
from web.deps import Admin, Api, Reader, WebDep
from web.render import page, see_other

router = APIRouter(prefix="/crm")
Short = Annotated[str, Form(max_length=200)]


async def _crm_page(
    request: Request, deps: Api, viewer: Viewer, *, tested: str | None = None
) -> object:
    caller = caller_of(viewer)
    if not caller.is_admin:
        raise Forbidden("The CRM sync is for admins: its token writes into your CRM.")
    async with deps.sessions() as session:
        found = await crm.status(caller, session)
        row = found.connector
        return await page(
            request,
            session,
            viewer,
            "crm.html",
            connector=row,
            runs=found.runs,
            names=NAMES,
            fields=FIELDS,
            mapping=row.field_map if row else DEFAULT_MAPS["airtable"],
            defaults=DEFAULT_MAPS,
            tested=tested,
            nav="crm",
        )


@router.get("")
async def crm_page(request: Request, viewer: Reader, deps: Api) -> object:
    return await _crm_page(request, deps, viewer)


@router.post("")
async def save(
    request: Request,
    viewer: Admin,
    deps: Api,
    web: WebDep,
    kind: Short = "",
    token: Annotated[str, Form(max_length=400)] = "",
    base_id: Short = "",
    table: Short = "",
    portal_id: Short = "",
    enabled: Annotated[str, Form(max_length=4)] = "",
    luma_contact_tags: Annotated[str, Form(max_length=4)] = "",
) -> object:
    form = await request.form()
    mapping = {ours: str(form.get(f"map_{ours}", ""))[:200] for ours in FIELDS}
    settings = CrmSettings(
        kind=kind,
        token=token,
        base_id=base_id,
        table=table,
        portal_id=portal_id,
        field_map=mapping if any(mapping.values()) else None,
        enabled=enabled == "on",
        luma_contact_tags=luma_contact_tags == "on",
    )
    async with deps.sessions.begin() as session:
        await crm.configure(
            caller_of(viewer),
            session,
            automations=deps.automations,
            keybox=web.keybox,
            form=settings,
        )
    return see_other("/web/crm?saved=1")


@router.post("/test")
async def test_record(request: Request, viewer: Admin, deps: Api, web: WebDep) -> object:
    """Write the first profile, as a sync would, and say whose it was."""
    async with deps.sessions.begin() as session:
        email = await crm.write_test_record(
            caller_of(viewer),
            session,
            keybox=web.keybox,
            config=CrmConfig.from_settings(web.settings),
            vip_rules=deps.vip_rules,
        )
    return await _crm_page(request, deps, viewer, tested=email)


@router.post("/run")
async def run_now(viewer: Admin, deps: Api) -> object:
    async with deps.sessions() as session:
        await crm.start_run(caller_of(viewer), session, automations=deps.automations)
    return see_other("/web/crm?started=1")
