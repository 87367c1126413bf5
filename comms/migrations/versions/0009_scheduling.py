"""Scheduling: providers and their locations, appointment types, working hours, time off, holidays,
appointments, reminder rules and sent reminders, private calendar feeds, and the database rule that
no provider is booked twice.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)
ACTIVE = "('scheduled', 'confirmed', 'checked_in', 'completed')"
OVERLAP = "ex_appointments_no_overlap"  # comms.appointments maps this violation to a 409

# btree_gist lets one GiST index hold both "same provider" (=) and "ranges overlap" (&&). It goes into
# public so every schema's tables can use it (default operator classes are found outside search_path).
_POSTGRES = [
    "CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA public",
    f"""ALTER TABLE appointments ADD CONSTRAINT {OVERLAP} EXCLUDE USING gist (
        provider_id WITH =, tstzrange(starts_at, busy_until, '[)') WITH &&
    ) WHERE (status IN {ACTIVE})""",
]

# SQLite has no exclusion constraints: triggers refuse the same overlaps. Writers are serialized by
# BEGIN IMMEDIATE (comms/db.py), so the check and the write cannot interleave with another booking.
# Timestamps are stored as fixed-width UTC text, so comparing them as text compares the instants.
_CLASH = f"""SELECT RAISE(ABORT, 'appointment_overlap') WHERE EXISTS (
        SELECT 1 FROM appointments a WHERE a.provider_id = NEW.provider_id AND a.id IS NOT NEW.id
        AND a.status IN {ACTIVE} AND a.starts_at < NEW.busy_until AND NEW.starts_at < a.busy_until)"""
_SQLITE = [
    f"""CREATE TRIGGER appointments_no_overlap_insert BEFORE INSERT ON appointments
        WHEN NEW.status IN {ACTIVE} BEGIN {_CLASH}; END""",
    f"""CREATE TRIGGER appointments_no_overlap_update
        BEFORE UPDATE OF provider_id, starts_at, busy_until, status ON appointments
        WHEN NEW.status IN {ACTIVE} BEGIN {_CLASH}; END""",
]


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "providers",
        sa.Column("id", ID, nullable=False),
        sa.Column("practice_id", ID, nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        _fk("providers", "practice_id", "practices", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_providers")),
        sa.UniqueConstraint("practice_id", "name", name=op.f("uq_providers_practice_id_name")),
    )
    op.create_index(op.f("ix_providers_practice_id"), "providers", ["practice_id"])
    op.create_table(
        "provider_locations",
        sa.Column("provider_id", ID, nullable=False),
        sa.Column("location_id", ID, nullable=False),
        _fk("provider_locations", "provider_id", "providers", "CASCADE"),
        _fk("provider_locations", "location_id", "locations", "CASCADE"),
        sa.PrimaryKeyConstraint("provider_id", "location_id", name=op.f("pk_provider_locations")),
    )
    op.create_index(op.f("ix_provider_locations_location_id"), "provider_locations", ["location_id"])
    op.create_table(
        "appointment_types",
        sa.Column("id", ID, nullable=False),
        sa.Column("practice_id", ID, nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("duration_minutes", sa.Integer(), nullable=False),
        sa.Column("buffer_minutes", sa.Integer(), nullable=False),
        sa.Column("colour", sa.String(7), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        _fk("appointment_types", "practice_id", "practices", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_types")),
        sa.UniqueConstraint("practice_id", "name", name=op.f("uq_appointment_types_practice_id_name")),
    )
    op.create_index(op.f("ix_appointment_types_practice_id"), "appointment_types", ["practice_id"])
    op.create_table(
        "working_hours",
        sa.Column("id", ID, nullable=False),
        sa.Column("provider_id", ID, nullable=False),
        sa.Column("location_id", ID, nullable=False),
        sa.Column("weekday", sa.SmallInteger(), nullable=False),
        sa.Column("starts", sa.Time(), nullable=False),
        sa.Column("ends", sa.Time(), nullable=False),
        _fk("working_hours", "provider_id", "providers", "CASCADE"),
        _fk("working_hours", "location_id", "locations", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_working_hours")),
    )
    op.create_index(op.f("ix_working_hours_provider_id"), "working_hours", ["provider_id"])
    op.create_index(op.f("ix_working_hours_location_id"), "working_hours", ["location_id"])
    op.create_table(
        "time_off",
        sa.Column("id", ID, nullable=False),
        sa.Column("provider_id", ID, nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("reason", sa.String(80), nullable=False),
        _fk("time_off", "provider_id", "providers", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_time_off")),
    )
    op.create_index(op.f("ix_time_off_provider_id"), "time_off", ["provider_id"])
    op.create_table(
        "schedule_holidays",
        sa.Column("id", ID, nullable=False),
        sa.Column("location_id", ID, nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        _fk("schedule_holidays", "location_id", "locations", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_holidays")),
        sa.UniqueConstraint("location_id", "date", name=op.f("uq_schedule_holidays_location_id_date")),
    )
    op.create_table(
        "appointments",
        sa.Column("id", ID, nullable=False),
        sa.Column("location_id", ID, nullable=False),
        sa.Column("provider_id", ID, nullable=False),
        sa.Column("contact_id", ID, nullable=False),
        sa.Column("type_id", ID, nullable=False),
        sa.Column("conversation_id", ID, nullable=False),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("busy_until", TS, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("booked_by_id", ID, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _fk("appointments", "location_id", "locations", "CASCADE"),
        _fk("appointments", "provider_id", "providers", "CASCADE"),
        _fk("appointments", "contact_id", "contacts", "CASCADE"),
        _fk("appointments", "type_id", "appointment_types", "RESTRICT"),
        _fk("appointments", "conversation_id", "conversations", "CASCADE"),
        _fk("appointments", "booked_by_id", "staff_users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
    )
    op.create_index(op.f("ix_appointments_contact_id"), "appointments", ["contact_id"])
    op.create_index(op.f("ix_appointments_conversation_id"), "appointments", ["conversation_id"])
    op.create_index("ix_appointments_provider_starts", "appointments", ["provider_id", "starts_at"])
    op.create_index("ix_appointments_location_starts", "appointments", ["location_id", "starts_at"])
    op.create_table(
        "provider_feeds",
        sa.Column("provider_id", ID, nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        _fk("provider_feeds", "provider_id", "providers", "CASCADE"),
        sa.PrimaryKeyConstraint("provider_id", name=op.f("pk_provider_feeds")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_provider_feeds_token_sha256")),
    )
    op.create_table(
        "reminder_rules",
        sa.Column("id", ID, nullable=False),
        sa.Column("practice_id", ID, nullable=False),
        sa.Column("minutes_before", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(8), nullable=False),
        sa.Column("template", sa.Text(), nullable=False),
        sa.Column("quiet_from", sa.Time(), nullable=True),
        sa.Column("quiet_until", sa.Time(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        _fk("reminder_rules", "practice_id", "practices", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reminder_rules")),
    )
    op.create_index(op.f("ix_reminder_rules_practice_id"), "reminder_rules", ["practice_id"])
    op.create_table(
        "appointment_reminders",
        sa.Column("id", ID, nullable=False),
        sa.Column("appointment_id", ID, nullable=False),
        sa.Column("rule_id", ID, nullable=True),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(40), nullable=True),
        sa.Column("item_id", ID, nullable=True),
        sa.Column("reply", sa.String(12), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _fk("appointment_reminders", "appointment_id", "appointments", "CASCADE"),
        _fk("appointment_reminders", "rule_id", "reminder_rules", "CASCADE"),
        _fk("appointment_reminders", "item_id", "timeline_items", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointment_reminders")),
        sa.UniqueConstraint(
            "appointment_id", "rule_id", name=op.f("uq_appointment_reminders_appointment_id_rule_id")
        ),
    )
    op.create_index(op.f("ix_appointment_reminders_rule_id"), "appointment_reminders", ["rule_id"])
    for statement in _SQLITE if op.get_bind().dialect.name == "sqlite" else _POSTGRES:
        op.execute(statement)


def downgrade() -> None:
    # The btree_gist extension stays: other schemas in the database may use it.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS appointments_no_overlap_update")
        op.execute("DROP TRIGGER IF EXISTS appointments_no_overlap_insert")
    op.drop_table("appointment_reminders")
    op.drop_table("reminder_rules")
    op.drop_table("provider_feeds")
    op.drop_table("appointments")
    op.drop_table("schedule_holidays")
    op.drop_table("time_off")
    op.drop_table("working_hours")
    op.drop_table("appointment_types")
    op.drop_table("provider_locations")
    op.drop_table("providers")
