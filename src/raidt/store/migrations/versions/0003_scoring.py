"""Scoring schema changes (placeholder for the scoring engineer).

Revision ID: 0003_scoring
Revises: 0002_workflow
"""

from __future__ import annotations

revision = "0003_scoring"
down_revision = "0002_workflow"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
