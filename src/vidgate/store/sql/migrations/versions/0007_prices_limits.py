"""prices and per-key limits

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(sa.Column("max_in_flight", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("max_submits_per_minute", sa.Integer(), nullable=True))
    with op.batch_alter_table("tasks") as batch:
        batch.add_column(sa.Column("price", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("billed_seconds", sa.Float(), nullable=True))
        batch.add_column(sa.Column("cost", sa.Float(), nullable=True))
        batch.create_index("ix_tasks_owner_created", ["owner_id", "created_at"])


def downgrade() -> None:
    with op.batch_alter_table("tasks") as batch:
        batch.drop_index("ix_tasks_owner_created")
        batch.drop_column("cost")
        batch.drop_column("billed_seconds")
        batch.drop_column("price")
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("max_submits_per_minute")
        batch.drop_column("max_in_flight")
