"""upstream polling

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("upstream_id", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("upstream_status", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("credential", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("next_poll_at", sa.DateTime(), nullable=True))
        batch_op.add_column(
            sa.Column("poll_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.create_index("ix_tasks_poll", ["status", "next_poll_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index("ix_tasks_poll")
        batch_op.drop_column("poll_failures")
        batch_op.drop_column("next_poll_at")
        batch_op.drop_column("credential")
        batch_op.drop_column("upstream_status")
        batch_op.drop_column("upstream_id")
