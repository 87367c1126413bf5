"""Full-text search over timeline bodies: SQLite FTS5 kept by triggers, a GIN index on PostgreSQL.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_SQLITE = (
    "CREATE VIRTUAL TABLE timeline_fts USING fts5(body, content='timeline_items', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER timeline_fts_ai AFTER INSERT ON timeline_items BEGIN "
    "INSERT INTO timeline_fts(rowid, body) VALUES (new.id, new.body); END",
    "CREATE TRIGGER timeline_fts_ad AFTER DELETE ON timeline_items BEGIN "
    "INSERT INTO timeline_fts(timeline_fts, rowid, body) VALUES ('delete', old.id, old.body); END",
    "CREATE TRIGGER timeline_fts_au AFTER UPDATE OF body ON timeline_items BEGIN "
    "INSERT INTO timeline_fts(timeline_fts, rowid, body) VALUES ('delete', old.id, old.body); "
    "INSERT INTO timeline_fts(rowid, body) VALUES (new.id, new.body); END",
    "INSERT INTO timeline_fts(timeline_fts) VALUES ('rebuild')",
)
_POSTGRES = (
    "CREATE INDEX ix_timeline_items_body_fts ON timeline_items USING gin (to_tsvector('simple', body))",
)


def upgrade() -> None:
    for statement in _SQLITE if op.get_bind().dialect.name == "sqlite" else _POSTGRES:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("timeline_fts_ai", "timeline_fts_ad", "timeline_fts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS timeline_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_timeline_items_body_fts")
