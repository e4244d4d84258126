"""share-out sheets: the finalised calculation of each cycle, kept unchanged (UPDATE and DELETE refused)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 12:03:54.485253
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('share_outs',
    sa.Column('cycle_id', sa.Uuid(), nullable=False),
    sa.Column('meeting_id', sa.Uuid(), nullable=False),
    sa.Column('interest_pool_cents', sa.BigInteger(), nullable=False),
    sa.Column('total_payout_cents', sa.BigInteger(), nullable=False),
    sa.Column('sheet', sa.JSON(), nullable=False),
    sa.Column('sheet_hash', sa.String(length=64), nullable=False),
    sa.Column('finalised_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('finalised_by', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_share_outs_cycle_id_cycles')),
    sa.ForeignKeyConstraint(['finalised_by'], ['users.id'], name=op.f('fk_share_outs_finalised_by_users')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_share_outs_meeting_id_meetings')),
    sa.PrimaryKeyConstraint('cycle_id', name=op.f('pk_share_outs'))
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TRIGGER share_outs_no_update BEFORE UPDATE OR DELETE ON share_outs "
                   "FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()")
    else:
        op.execute("CREATE TRIGGER share_outs_no_update BEFORE UPDATE ON share_outs "
                   "BEGIN SELECT RAISE(ABORT, 'share-out sheets are kept unchanged: UPDATE refused'); END")
        op.execute("CREATE TRIGGER share_outs_no_delete BEFORE DELETE ON share_outs "
                   "BEGIN SELECT RAISE(ABORT, 'share-out sheets are kept unchanged: DELETE refused'); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS share_outs_no_update ON share_outs")
    op.drop_table('share_outs')
