"""The figures' tables as CSV: the same numbers the dashboard draws, one table per export."""

from __future__ import annotations

import json
from collections.abc import Sequence

from comms.csv_export import to_csv
from schemas.analytics import AuditRow, ExportTable, Figures, PaymentTotals


def table(figures: Figures, name: ExportTable) -> tuple[list[str], list[Sequence[object]]]:
    """(header, rows) of one table of the figures."""
    p, m = figures.phones, figures.messages
    if name == "phones":
        fields = [
            "calls",
            "inbound",
            "outbound",
            "answered",
            "missed",
            "answer_rate",
            "recovered",
            "recovery_rate",
            "average_wait_seconds",
            "voicemails",
            "messages_inbound",
            "messages_outbound",
            "first_response_answered",
            "first_response_median_seconds",
            "first_response_p90_seconds",
            "unanswered",
        ]
        values = [
            p.calls,
            p.inbound,
            p.outbound,
            p.answered,
            p.missed,
            p.answer_rate,
            p.recovered,
            p.recovery_rate,
            p.average_wait_seconds,
            p.voicemails,
            m.inbound,
            m.outbound,
            m.first_response.answered,
            m.first_response.median_seconds,
            m.first_response.p90_seconds,
            m.unanswered,
        ]
        return ["location_id", "start", "end", *fields], [
            [figures.location_id, figures.start, figures.end, *values]
        ]
    if name == "phone_days":
        return ["date", "calls", "answered", "missed"], [
            [d.date, d.calls, d.answered, d.missed] for d in p.days
        ]
    if name == "channels":
        return ["channel", "inbound", "outbound"], [[c.channel, c.inbound, c.outbound] for c in m.channels]
    if name == "message_days":
        return ["date", "inbound", "outbound"], [[d.date, d.inbound, d.outbound] for d in m.days]
    if name == "appointments":
        a = figures.appointments
        fields = list(type(a).model_fields)
        return fields, [[getattr(a, f) for f in fields]]
    if name == "payments":
        fields = list(PaymentTotals.model_fields)
        return fields, [[getattr(t, f) for f in fields] for t in figures.payments]
    if name == "reviews":
        r = figures.reviews
        fields = list(type(r).model_fields)
        return fields, [[getattr(r, f) for f in fields]]
    return (
        ["user_id", "name", "conversations", "calls_answered", "messages_sent"],
        [[r.user_id, r.name, r.conversations, r.calls_answered, r.messages_sent] for r in figures.staff],
    )


def figures_csv(figures: Figures, name: ExportTable) -> str:
    header, rows = table(figures, name)
    return to_csv(header, rows)


AUDIT_HEADER = [
    "id",
    "at",
    "staff_id",
    "staff_name",
    "action",
    "record_type",
    "record_id",
    "patient_id",
    "patient_name",
    "remote_addr",
    "detail",
]


def audit_csv(rows: list[AuditRow]) -> str:
    return to_csv(
        AUDIT_HEADER,
        (
            [
                r.id,
                r.at.isoformat(),
                r.staff_id,
                r.staff_name,
                r.action,
                r.record_type,
                r.record_id,
                r.patient_id,
                r.patient_name,
                r.remote_addr,
                json.dumps(r.detail, sort_keys=True, separators=(",", ":")),
            ]
            for r in rows
        ),
    )
