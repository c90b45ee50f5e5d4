"""decision: owner, progress and report-backs (återrapporter) kept by the aggregate

The week build shows what was done about a medborgarlöfte and who answers for a decision;
before this the aggregate kept only the decision's first event and its closing.

Revision ID: 0008d
Revises: 0007p
Create Date: 2026-12-07 01:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008d"
down_revision: str | None = "0007p"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.add_column(sa.Column("owner", _TEXT(), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("progress", _TEXT(), nullable=False, server_default="planerad")
        )
        batch_op.add_column(sa.Column("reports_json", _TEXT(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.drop_column("reports_json")
        batch_op.drop_column("progress")
        batch_op.drop_column("owner")
