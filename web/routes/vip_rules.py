"""VIP rules: the org's scoring rules in a form, a preview of who becomes or stops being a VIP
on its real guests before saving, save, and reset to the defaults.

The checks, the audit row and the preview are `services.vip_rules`' (the control API's too);
this page reads the form's text fields and shows the answers. Members see the rules
read-only; saving and resetting are for admins.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request

from api.deps import ApiDeps
from intel.vip import VipRules
from intel.vip_rules import VipPreview
from services import vip_rules
from services.caller import Invalid
from services.vip_rules import COMPANY_MAX, MAX_COMPANIES
from web.auth import Viewer
from web.caller import caller_of
from web.deps import Admin, Api, FormViewer, Reader
from web.render import page, see_other

router = APIRouter(prefix="/vip-rules")

NUMBER = r"^\s*\d{1,7}(\.\d{1,4})?\s*$"
TEXT_MAX = 4000  # tag or seniority points as text
COMPANIES_MAX = MAX_COMPANIES * (COMPANY_MAX + 2)
SmallText = Annotated[str, Form(max_length=16)]


@dataclass(frozen=True)
class RulesForm:
    """The form as typed (shown back unchanged when it is refused or previewed)."""

    threshold: str
    points_per_attended: str
    attended_cap: str
    attendance_rate: str  # a percentage
    attendance_rate_points: str
    attendance_rate_min_events: str
    tag_points: str
    companies: str
    company_points: str
    seniority_points: str

    @classmethod
    def of(cls, rules: VipRules) -> RulesForm:
        return cls(
            threshold=str(rules.threshold),
            points_per_attended=str(rules.points_per_attended),
            attended_cap=str(rules.attended_cap),
            attendance_rate=f"{rules.attendance_rate * 100:g}",
            attendance_rate_points=str(rules.attendance_rate_points),
            attendance_rate_min_events=str(rules.attendance_rate_min_events),
            tag_points=vip_rules.points_text(rules.tag_points),
            companies=", ".join(sorted(rules.companies)),
            company_points=str(rules.company_points),
            seniority_points=vip_rules.points_text(rules.seniority_points),
        )

    def proposed(self) -> dict[str, Any]:
        """The `VipRules.stored()` shape the service checks; Invalid for what is not a number."""
        return {
            "threshold": _whole(self.threshold, "the VIP threshold"),
            "points_per_attended": _whole(self.points_per_attended, "points per attended event"),
            "attended_cap": _whole(self.attended_cap, "the cap on attended events"),
            "attendance_rate": _percent(self.attendance_rate),
            "attendance_rate_points": _whole(self.attendance_rate_points, "the rate bonus"),
            "attendance_rate_min_events": _whole(
                self.attendance_rate_min_events, "the events the rate needs"
            ),
            "tag_points": vip_rules.parse_points(self.tag_points, "tag"),
            "companies": vip_rules.parse_companies(self.companies),
            "company_points": _whole(self.company_points, "the company points"),
            "seniority_points": vip_rules.parse_points(self.seniority_points, "seniority"),
        }


def _whole(raw: str, what: str) -> int:
    if not re.fullmatch(r"\s*\d{1,7}\s*", raw):
        raise Invalid(f"Give {what} as a whole number.")
    return int(raw)


def _percent(raw: str) -> float:
    if not re.fullmatch(NUMBER, raw):
        raise Invalid("Give the attendance rate as a percentage, like 80.")
    return round(float(raw) / 100, 6)


def _form(
    threshold: SmallText = "",
    points_per_attended: SmallText = "",
    attended_cap: SmallText = "",
    attendance_rate: SmallText = "",
    attendance_rate_points: SmallText = "",
    attendance_rate_min_events: SmallText = "",
    tag_points: Annotated[str, Form(max_length=TEXT_MAX)] = "",
    companies: Annotated[str, Form(max_length=COMPANIES_MAX)] = "",
    company_points: SmallText = "",
    seniority_points: Annotated[str, Form(max_length=TEXT_MAX)] = "",
) -> RulesForm:
    return RulesForm(
        threshold,
        points_per_attended,
        attended_cap,
        attendance_rate,
        attendance_rate_points,
        attendance_rate_min_events,
        tag_points,
        companies,
        company_points,
        seniority_points,
    )


Rules = Annotated[RulesForm, Depends(_form)]


async def _show(
    request: Request,
    viewer: Viewer,
    deps: ApiDeps,
    *,
    form: RulesForm | None = None,
    preview: VipPreview | None = None,
    error: str | None = None,
) -> object:
    async with deps.sessions() as session:
        state = await vip_rules.current(caller_of(viewer), session, defaults=deps.vip_rules)
        return await page(
            request,
            session,
            viewer,
            "vip_rules.html",
            status=400 if error else 200,
            state=state,
            form=form or RulesForm.of(state.rules),
            defaults=RulesForm.of(deps.vip_rules),
            preview=preview,
            error=html.unescape(error) if error else None,  # refusals are HTML-safe; pages escape
            nav="vip-rules",
        )


@router.get("")
async def vip_rules_page(request: Request, viewer: Reader, deps: Api) -> object:
    return await _show(request, viewer, deps)


@router.post("/preview")
async def preview(request: Request, viewer: FormViewer, deps: Api, form: Rules) -> object:
    """The counts and a few names, nothing saved; the form keeps what was typed."""
    try:
        async with deps.sessions() as session:
            found = await vip_rules.preview(
                caller_of(viewer), session, form.proposed(), defaults=deps.vip_rules
            )
    except Invalid as exc:
        return await _show(request, viewer, deps, form=form, error=exc.message)
    return await _show(request, viewer, deps, form=form, preview=found)


@router.post("")
async def save(request: Request, viewer: Admin, deps: Api, form: Rules) -> object:
    try:
        async with deps.sessions.begin() as session:
            saved = await vip_rules.save(
                caller_of(viewer), session, form.proposed(), defaults=deps.vip_rules
            )
    except Invalid as exc:
        return await _show(request, viewer, deps, form=form, error=exc.message)
    return see_other(f"/web/vip-rules?saved={len(saved.changed)}")


@router.post("/reset")
async def reset(viewer: Admin, deps: Api) -> object:
    async with deps.sessions.begin() as session:
        await vip_rules.reset(caller_of(viewer), session, defaults=deps.vip_rules)
    return see_other("/web/vip-rules?reset=1")
