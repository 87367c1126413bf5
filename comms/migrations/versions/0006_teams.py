"""Teams: conversations can be handed to a group of staff, not only to one person.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", ID, nullable=False),
        sa.Column("practice_id", ID, nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["practice_id"], ["practices.id"], name=op.f("fk_teams_practice_id_practices"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.UniqueConstraint("practice_id", "name", name=op.f("uq_teams_practice_id_name")),
    )
    op.create_table(
        "team_members",
        sa.Column("team_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_members_team_id_teams"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["staff_users.id"],
            name=op.f("fk_team_members_user_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("team_id", "user_id", name=op.f("pk_team_members")),
    )
    with op.batch_alter_table("conversations") as batch:
        batch.add_column(sa.Column("team_id", ID, nullable=True))
        batch.create_index(op.f("ix_conversations_team_id"), ["team_id"])
        batch.create_foreign_key(
            op.f("fk_conversations_team_id_teams"), "teams", ["team_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("conversations") as batch:
        batch.drop_constraint(op.f("fk_conversations_team_id_teams"), type_="foreignkey")
        batch.drop_index(op.f("ix_conversations_team_id"))
        batch.drop_column("team_id")
    op.drop_table("team_members")
    op.drop_table("teams")
