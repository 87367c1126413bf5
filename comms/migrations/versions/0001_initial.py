"""Initial schema: practice, locations, staff, sessions, contacts, conversations, timeline, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)

_PG_APPEND_ONLY = (
    "CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql",
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
)


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", ID, nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_key_at", "login_failures", ["key", "at"], unique=False)
    op.create_table(
        "practices",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_practices")),
    )
    op.create_table(
        "households",
        sa.Column("id", ID, nullable=False),
        sa.Column("practice_id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_households_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_households")),
    )
    op.create_index(op.f("ix_households_practice_id"), "households", ["practice_id"], unique=False)
    op.create_table(
        "locations",
        sa.Column("id", ID, nullable=False),
        sa.Column("practice_id", ID, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_locations_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_locations")),
    )
    op.create_index(op.f("ix_locations_practice_id"), "locations", ["practice_id"], unique=False)
    op.create_table(
        "staff_users",
        sa.Column("id", ID, nullable=False),
        sa.Column("practice_id", ID, nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_staff_users_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_users")),
        sa.UniqueConstraint("email", name=op.f("uq_staff_users_email")),
    )
    op.create_index(op.f("ix_staff_users_practice_id"), "staff_users", ["practice_id"], unique=False)
    op.create_table(
        "audit_log",
        sa.Column("id", ID, nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor_id", ID, nullable=True),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["staff_users.id"],
            name=op.f("fk_audit_log_actor_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.create_index("ix_audit_log_record", "audit_log", ["record_type", "record_id"], unique=False)
    op.create_table(
        "contacts",
        sa.Column("id", ID, nullable=False),
        sa.Column("practice_id", ID, nullable=False),
        sa.Column("household_id", ID, nullable=True),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("date_of_birth", sa.Date(), nullable=True),
        sa.Column("is_unknown", sa.Boolean(), nullable=False),
        sa.Column("merged_into_id", ID, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["household_id"],
            ["households.id"],
            name=op.f("fk_contacts_household_id_households"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["merged_into_id"],
            ["contacts.id"],
            name=op.f("fk_contacts_merged_into_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["practice_id"],
            ["practices.id"],
            name=op.f("fk_contacts_practice_id_practices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    op.create_index(op.f("ix_contacts_household_id"), "contacts", ["household_id"], unique=False)
    op.create_index(op.f("ix_contacts_practice_id"), "contacts", ["practice_id"], unique=False)
    op.create_table(
        "location_numbers",
        sa.Column("id", ID, nullable=False),
        sa.Column("location_id", ID, nullable=False),
        sa.Column("e164", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("sms", sa.Boolean(), nullable=False),
        sa.Column("voice", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_location_numbers_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location_numbers")),
        sa.UniqueConstraint("e164", name=op.f("uq_location_numbers_e164")),
    )
    op.create_index(
        op.f("ix_location_numbers_location_id"), "location_numbers", ["location_id"], unique=False
    )
    op.create_table(
        "staff_locations",
        sa.Column("user_id", ID, nullable=False),
        sa.Column("location_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_staff_locations_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_users.id"],
            name=op.f("fk_staff_locations_user_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "location_id", name=op.f("pk_staff_locations")),
    )
    op.create_index(op.f("ix_staff_locations_location_id"), "staff_locations", ["location_id"], unique=False)
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("last_seen_at", TS, nullable=False),
        sa.Column("expires_at", TS, nullable=False),
        sa.Column("remote_addr", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_users.id"],
            name=op.f("fk_staff_sessions_user_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
    )
    op.create_index(op.f("ix_staff_sessions_user_id"), "staff_sessions", ["user_id"], unique=False)
    op.create_table(
        "contact_emails",
        sa.Column("id", ID, nullable=False),
        sa.Column("contact_id", ID, nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_emails_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_emails")),
        sa.UniqueConstraint("contact_id", "address", name=op.f("uq_contact_emails_contact_id_address")),
    )
    op.create_index(op.f("ix_contact_emails_address"), "contact_emails", ["address"], unique=False)
    op.create_index(op.f("ix_contact_emails_contact_id"), "contact_emails", ["contact_id"], unique=False)
    op.create_table(
        "contact_phones",
        sa.Column("id", ID, nullable=False),
        sa.Column("contact_id", ID, nullable=False),
        sa.Column("e164", sa.String(length=20), nullable=False),
        sa.Column("label", sa.String(length=30), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_phones_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_phones")),
        sa.UniqueConstraint("contact_id", "e164", name=op.f("uq_contact_phones_contact_id_e164")),
    )
    op.create_index(op.f("ix_contact_phones_contact_id"), "contact_phones", ["contact_id"], unique=False)
    op.create_index(op.f("ix_contact_phones_e164"), "contact_phones", ["e164"], unique=False)
    op.create_table(
        "conversations",
        sa.Column("id", ID, nullable=False),
        sa.Column("contact_id", ID, nullable=False),
        sa.Column("location_id", ID, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assignee_id", ID, nullable=True),
        sa.Column("snoozed_until", TS, nullable=True),
        sa.Column("last_item_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["assignee_id"],
            ["staff_users.id"],
            name=op.f("fk_conversations_assignee_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_conversations_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["locations.id"],
            name=op.f("fk_conversations_location_id_locations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversations")),
        sa.UniqueConstraint(
            "contact_id", "location_id", name=op.f("uq_conversations_contact_id_location_id")
        ),
    )
    op.create_index(op.f("ix_conversations_contact_id"), "conversations", ["contact_id"], unique=False)
    op.create_index(op.f("ix_conversations_location_id"), "conversations", ["location_id"], unique=False)
    op.create_index(
        "ix_conversations_location_last", "conversations", ["location_id", "last_item_at", "id"], unique=False
    )
    op.create_table(
        "timeline_items",
        sa.Column("id", ID, nullable=False),
        sa.Column("conversation_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("carrier_sid", sa.String(length=64), nullable=True),
        sa.Column("error_code", sa.String(length=16), nullable=True),
        sa.Column("author_id", ID, nullable=True),
        sa.Column("meta", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["staff_users.id"],
            name=op.f("fk_timeline_items_author_id_staff_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_timeline_items_conversation_id_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline_items")),
        sa.UniqueConstraint("carrier_sid", name=op.f("uq_timeline_items_carrier_sid")),
    )
    op.create_index(
        "ix_timeline_items_conversation_created",
        "timeline_items",
        ["conversation_id", "created_at", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_timeline_items_conversation_id"), "timeline_items", ["conversation_id"], unique=False
    )
    _audit_append_only()


def _audit_append_only() -> None:
    """The audit log can be written, never rewritten: the database itself refuses UPDATE and DELETE."""
    if op.get_bind().dialect.name == "postgresql":
        for statement in _PG_APPEND_ONLY:
            op.execute(statement)
        return
    for verb in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
            "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS audit_log_no_update ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    for table in reversed(TABLES):
        op.drop_table(table)


TABLES = (
    "login_failures",
    "practices",
    "households",
    "locations",
    "staff_users",
    "audit_log",
    "contacts",
    "location_numbers",
    "staff_locations",
    "staff_sessions",
    "contact_emails",
    "contact_phones",
    "conversations",
    "timeline_items",
)
