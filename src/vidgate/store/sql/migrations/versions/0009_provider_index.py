"""an index of tasks by status and provider

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_tasks_provider", "tasks", ["status", "provider"])


def downgrade() -> None:
    op.drop_index("ix_tasks_provider", table_name="tasks")
