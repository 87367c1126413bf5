"""REST: office analytics (figures, drill-downs, CSV of every table) and the admins' audit report."""

from __future__ import annotations

from aiohttp import web

from comms import analytics, audit_report
from comms.analytics_export import audit_csv, figures_csv
from schemas.analytics import AuditPage, AuditQuery, DrillDown, DrillQuery, ExportQuery, Figures, RangeQuery
from web.api import ApiRouter, parse_query, reply
from web.keys import SERVICES
from web.staff_auth import require_actor

router = ApiRouter("analytics")


def _csv(text: str, filename: str) -> web.Response:
    return web.Response(
        text=text,
        content_type="text/csv",
        charset="utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.route(
    "GET",
    "/api/v1/analytics/figures",
    summary="How the office did: phone, message and staff figures for a location and range of its days",
    query=RangeQuery,
    response=Figures,
    errors=(404,),
)
async def get_figures(request: web.Request) -> web.Response:
    """Days are the location's local days (DST-aware); response times count its business hours only."""
    actor = await require_actor(request)
    return reply(await analytics.figures(request.app[SERVICES], actor, parse_query(request, RangeQuery)))


@router.route(
    "GET",
    "/api/v1/analytics/export",
    summary="One table of the figures as CSV (phones, phone_days, channels, message_days, staff)",
    query=ExportQuery,
    binary_types=("text/csv",),
    response_headers={"Content-Disposition": "attachment, with a file name naming the table and range"},
    errors=(404,),
)
async def export_figures(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    q = parse_query(request, ExportQuery)
    figures = await analytics.figures(request.app[SERVICES], actor, q)
    name = f"{q.table}-{q.location_id}-{q.start.isoformat()}-{q.end.isoformat()}.csv"
    return _csv(figures_csv(figures, q.table), name)


@router.route(
    "GET",
    "/api/v1/analytics/drilldown",
    summary="The conversations behind one figure (ids, newest first)",
    query=DrillQuery,
    response=DrillDown,
    errors=(404,),
)
async def drilldown(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return reply(await analytics.drill(request.app[SERVICES], actor, parse_query(request, DrillQuery)))


@router.route(
    "GET",
    "/api/v1/audit",
    summary="Who read or changed which patient's records, newest first (admins; the look is audited)",
    query=AuditQuery,
    response=AuditPage,
)
async def get_audit(request: web.Request) -> web.Response:
    actor = await require_actor(request)
    return reply(await audit_report.report(request.app[SERVICES], actor, parse_query(request, AuditQuery)))


@router.route(
    "GET",
    "/api/v1/audit/export",
    summary="The filtered audit report as CSV (admins; the export is audited)",
    query=AuditQuery,
    binary_types=("text/csv",),
    response_headers={"Content-Disposition": "attachment; audit-log.csv"},
)
async def export_audit(request: web.Request) -> web.Response:
    """Every matching entry (up to 100,000), ignoring limit; before_id starts below an entry."""
    actor = await require_actor(request)
    rows = await audit_report.export(request.app[SERVICES], actor, parse_query(request, AuditQuery))
    return _csv(audit_csv(rows), "audit-log.csv")
