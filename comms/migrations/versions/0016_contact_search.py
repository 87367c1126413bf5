"""Patient search by substring without scanning every contact: on SQLite an FTS5 trigram table of each
live contact's name, e-mails and phone digits, kept by triggers; nothing on PostgreSQL (LIKE stays).
A later batch_alter_table on contacts, contact_phones or contact_emails rebuilds the table on SQLite,
which drops its triggers: such a migration must create them again.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

# What one contact's row holds, in one place: the triggers and the first fill (and the benchmark
# seeder's) all read this view, so they cannot disagree. Merged contacts are left out, as search
# leaves them out. E-mails and phones are space-joined: a phone needle is digits only and never spans
# the space; the search keeps needles with a space away from the e-mails (addresses hold none).
_SOURCE = (
    "CREATE VIEW contact_fts_source AS SELECT c.id AS id, c.first_name || ' ' || c.last_name AS name, "
    "coalesce((SELECT group_concat(e.address, ' ') FROM contact_emails e WHERE e.contact_id = c.id), '')"
    " AS emails, "
    "coalesce((SELECT group_concat(replace(p.e164, '+', ''), ' ') FROM contact_phones p"
    " WHERE p.contact_id = c.id), '') AS phones "
    "FROM contacts c WHERE c.merged_into_id IS NULL"
)
_FILL = (
    "INSERT INTO contact_fts(rowid, name, emails, phones)"
    " SELECT id, name, emails, phones FROM contact_fts_source"
)

# (table, the columns whose change matters, its contact id column); a moved phone or e-mail rebuilds
# both contacts, a merged one drops out.
_WATCHED = (
    ("contacts", "first_name, last_name, merged_into_id", "id"),
    ("contact_phones", "contact_id, e164", "contact_id"),
    ("contact_emails", "contact_id, address", "contact_id"),
)


def _triggers() -> list[tuple[str, str]]:
    """(name, CREATE TRIGGER) for each table and event; each drops and re-reads its contacts' rows."""
    out: list[tuple[str, str]] = []
    for table, columns, key in _WATCHED:
        for suffix, event, ids in (
            ("ai", "INSERT", f"new.{key}"),
            ("au", f"UPDATE OF {columns}", f"old.{key}, new.{key}"),
            ("ad", "DELETE", f"old.{key}"),
        ):
            name = f"contact_fts_{table}_{suffix}"
            body = f"DELETE FROM contact_fts WHERE rowid IN ({ids}); {_FILL} WHERE id IN ({ids});"
            out.append((name, f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN {body} END"))
    return out


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # Trigram: any substring of 3+ characters is an index lookup; case-insensitive by default.
    op.execute("CREATE VIRTUAL TABLE contact_fts USING fts5(name, emails, phones, tokenize='trigram')")
    op.execute(_SOURCE)
    for _name, sql in _triggers():
        op.execute(sql)
    op.execute(_FILL)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for name, _sql in _triggers():
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP VIEW IF EXISTS contact_fts_source")
    op.execute("DROP TABLE IF EXISTS contact_fts")
