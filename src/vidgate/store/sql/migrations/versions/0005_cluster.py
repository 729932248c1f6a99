"""cluster agreement

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cluster",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("secret_fingerprint", sa.String(64), nullable=False),
        sa.Column("canary_blob", sa.String(80), nullable=False),
        sa.Column("canary_sha256", sa.String(64), nullable=False),
        sa.Column("public_url", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cluster")
