"""Voice: per-location phone set-up, ring groups, who takes calls, calls and their legs, recordings,
missed-call texts (one per caller and day) and cached line types.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def _fk(table: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "voice_settings",
        sa.Column("location_id", ID, nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _fk("voice_settings", "location_id", "locations", "CASCADE"),
        sa.PrimaryKeyConstraint("location_id", name=op.f("pk_voice_settings")),
    )
    op.create_table(
        "ring_groups",
        sa.Column("id", ID, nullable=False),
        sa.Column("location_id", ID, nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        _fk("ring_groups", "location_id", "locations", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ring_groups")),
        sa.UniqueConstraint("location_id", "name", name=op.f("uq_ring_groups_location_id_name")),
    )
    op.create_index(op.f("ix_ring_groups_location_id"), "ring_groups", ["location_id"])
    op.create_table(
        "ring_group_members",
        sa.Column("group_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        _fk("ring_group_members", "group_id", "ring_groups", "CASCADE"),
        _fk("ring_group_members", "user_id", "staff_users", "CASCADE"),
        sa.PrimaryKeyConstraint("group_id", "user_id", name=op.f("pk_ring_group_members")),
    )
    op.create_index(op.f("ix_ring_group_members_user_id"), "ring_group_members", ["user_id"])
    op.create_table(
        "staff_phones",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("on_duty", sa.Boolean(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _fk("staff_phones", "user_id", "staff_users", "CASCADE"),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_staff_phones")),
    )
    op.create_table(
        "calls",
        sa.Column("id", ID, nullable=False),
        sa.Column("call_sid", sa.String(64), nullable=False),
        sa.Column("location_id", ID, nullable=False),
        sa.Column("conversation_id", ID, nullable=False),
        sa.Column("item_id", ID, nullable=True),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("patient_e164", sa.String(20), nullable=False),
        sa.Column("practice_e164", sa.String(20), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("route", sa.JSON(), nullable=False),
        sa.Column("group_id", ID, nullable=True),
        sa.Column("placed_by_id", ID, nullable=True),
        sa.Column("answered_by_id", ID, nullable=True),
        sa.Column("answered_leg_sid", sa.String(64), nullable=True),
        sa.Column("conference", sa.String(64), nullable=True),
        sa.Column("conference_sid", sa.String(64), nullable=True),
        sa.Column("on_hold", sa.Boolean(), nullable=False),
        sa.Column("recorded", sa.Boolean(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("queued_at", TS, nullable=True),
        sa.Column("answered_at", TS, nullable=True),
        sa.Column("ended_at", TS, nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("text_back", sa.String(40), nullable=True),
        sa.Column("updated_at", TS, nullable=False),
        _fk("calls", "location_id", "locations", "CASCADE"),
        _fk("calls", "conversation_id", "conversations", "CASCADE"),
        _fk("calls", "item_id", "timeline_items", "SET NULL"),
        _fk("calls", "group_id", "ring_groups", "SET NULL"),
        sa.ForeignKeyConstraint(
            ["placed_by_id"],
            ["staff_users.id"],
            name=op.f("fk_calls_placed_by_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["answered_by_id"],
            ["staff_users.id"],
            name=op.f("fk_calls_answered_by_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calls")),
        sa.UniqueConstraint("call_sid", name=op.f("uq_calls_call_sid")),
        sa.UniqueConstraint("item_id", name=op.f("uq_calls_item_id")),
    )
    op.create_index(op.f("ix_calls_conversation_id"), "calls", ["conversation_id"])
    op.create_index("ix_calls_location_started", "calls", ["location_id", "started_at"])
    op.create_index("ix_calls_text_back", "calls", ["text_back"])
    op.create_table(
        "call_legs",
        sa.Column("id", ID, nullable=False),
        sa.Column("call_id", ID, nullable=False),
        sa.Column("leg_sid", sa.String(64), nullable=False),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        _fk("call_legs", "call_id", "calls", "CASCADE"),
        _fk("call_legs", "user_id", "staff_users", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_call_legs")),
        sa.UniqueConstraint("leg_sid", name=op.f("uq_call_legs_leg_sid")),
    )
    op.create_index(op.f("ix_call_legs_call_id"), "call_legs", ["call_id"])
    op.create_table(
        "recordings",
        sa.Column("id", ID, nullable=False),
        sa.Column("recording_sid", sa.String(64), nullable=False),
        sa.Column("call_id", ID, nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("item_id", ID, nullable=True),
        sa.Column("media_id", ID, nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("transcription_status", sa.String(16), nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _fk("recordings", "call_id", "calls", "CASCADE"),
        _fk("recordings", "item_id", "timeline_items", "SET NULL"),
        _fk("recordings", "media_id", "media", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recordings")),
        sa.UniqueConstraint("recording_sid", name=op.f("uq_recordings_recording_sid")),
    )
    op.create_index(op.f("ix_recordings_call_id"), "recordings", ["call_id"])
    op.create_table(
        "missed_call_texts",
        sa.Column("id", ID, nullable=False),
        sa.Column("location_id", ID, nullable=False),
        sa.Column("e164", sa.String(20), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("call_id", ID, nullable=False),
        sa.Column("item_id", ID, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        _fk("missed_call_texts", "location_id", "locations", "CASCADE"),
        _fk("missed_call_texts", "call_id", "calls", "CASCADE"),
        _fk("missed_call_texts", "item_id", "timeline_items", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_missed_call_texts")),
        sa.UniqueConstraint(
            "location_id", "e164", "local_date", name=op.f("uq_missed_call_texts_location_id_e164_local_date")
        ),
    )
    op.create_table(
        "phone_line_types",
        sa.Column("e164", sa.String(20), nullable=False),
        sa.Column("line_type", sa.String(24), nullable=False),
        sa.Column("checked_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("e164", name=op.f("pk_phone_line_types")),
    )


def downgrade() -> None:
    op.drop_table("phone_line_types")
    op.drop_table("missed_call_texts")
    op.drop_index(op.f("ix_recordings_call_id"), table_name="recordings")
    op.drop_table("recordings")
    op.drop_index(op.f("ix_call_legs_call_id"), table_name="call_legs")
    op.drop_table("call_legs")
    op.drop_index("ix_calls_text_back", table_name="calls")
    op.drop_index("ix_calls_location_started", table_name="calls")
    op.drop_index(op.f("ix_calls_conversation_id"), table_name="calls")
    op.drop_table("calls")
    op.drop_table("staff_phones")
    op.drop_index(op.f("ix_ring_group_members_user_id"), table_name="ring_group_members")
    op.drop_table("ring_group_members")
    op.drop_index(op.f("ix_ring_groups_location_id"), table_name="ring_groups")
    op.drop_table("ring_groups")
    op.drop_table("voice_settings")
