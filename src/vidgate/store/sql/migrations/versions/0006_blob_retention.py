"""blob retention

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("results_purged_at", sa.DateTime(), nullable=True))
        batch.create_index("ix_tasks_retention", ["results_purged_at", "finished_at"])


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_index("ix_tasks_retention")
        batch.drop_column("results_purged_at")
