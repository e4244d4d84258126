"""spaarkring books: cycles, roles, meetings, attendance, loans, and the append-only ledger

The ledger refuses UPDATE and DELETE with a trigger on both engines, so even a bug can't rewrite history.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 11:54:53.275879
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy import text as sa_text

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('cycles',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('starts_on', sa.Date(), nullable=False),
    sa.Column('meeting_interval_days', sa.Integer(), nullable=False),
    sa.Column('planned_meetings', sa.Integer(), nullable=False),
    sa.Column('meeting_time', sa.String(length=5), nullable=False),
    sa.Column('min_deposit_cents', sa.BigInteger(), nullable=False),
    sa.Column('max_deposit_cents', sa.BigInteger(), nullable=False),
    sa.Column('max_loan_multiple', sa.Integer(), nullable=False),
    sa.Column('max_loan_term_meetings', sa.Integer(), nullable=False),
    sa.Column('default_interest_rate_bp', sa.Integer(), nullable=False),
    sa.Column('interest_distribution', sa.Enum('pro_rata', 'equal', 'time_weighted', name='interest_distribution', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('min_witnesses', sa.Integer(), nullable=False),
    sa.Column('approval_threshold_bp', sa.Integer(), nullable=False),
    sa.Column('leaver_interest_share', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('open', 'sharing_out', 'closed', name='cycle_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('entry_count', sa.Integer(), nullable=False),
    sa.Column('head_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_cycles_created_by_users')),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_cycles_group_id_groups')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_cycles')),
    sa.UniqueConstraint('group_id', 'number', name=op.f('uq_cycles_group_id_number'))
    )
    with op.batch_alter_table('cycles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_cycles_group_id'), ['group_id'], unique=False)
        batch_op.create_index('uq_cycles_one_unclosed_per_group', ['group_id'], unique=True, sqlite_where=sa_text("status != 'closed'"), postgresql_where=sa_text("status != 'closed'"))

    op.create_table('meetings',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('cycle_id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('meeting_no', sa.Integer(), nullable=False),
    sa.Column('scheduled_for', sa.DateTime(timezone=True), nullable=False),
    sa.Column('theme', sa.String(length=100), nullable=True),
    sa.Column('status', sa.Enum('planned', 'open', 'closed', name='meeting_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=False),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('opened_by', sa.Uuid(), nullable=True),
    sa.Column('opening_cash_cents', sa.BigInteger(), nullable=True),
    sa.Column('opening_difference_cents', sa.BigInteger(), nullable=True),
    sa.Column('signed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('signed_by_member_id', sa.Uuid(), nullable=True),
    sa.Column('signed_recorded_by', sa.Uuid(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by', sa.Uuid(), nullable=True),
    sa.Column('closing_cash_cents', sa.BigInteger(), nullable=True),
    sa.Column('closing_counted_by_member_id', sa.Uuid(), nullable=True),
    sa.Column('closing_witness_member_ids', sa.JSON(), nullable=True),
    sa.Column('expected_cash_cents', sa.BigInteger(), nullable=True),
    sa.Column('discrepancy_cents', sa.BigInteger(), nullable=True),
    sa.CheckConstraint('closing_cash_cents IS NULL OR closing_cash_cents >= 0', name=op.f('ck_meetings_closing_not_negative')),
    sa.CheckConstraint('opening_cash_cents IS NULL OR opening_cash_cents >= 0', name=op.f('ck_meetings_opening_not_negative')),
    sa.ForeignKeyConstraint(['closed_by'], ['users.id'], name=op.f('fk_meetings_closed_by_users')),
    sa.ForeignKeyConstraint(['closing_counted_by_member_id'], ['members.id'], name=op.f('fk_meetings_closing_counted_by_member_id_members')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_meetings_created_by_users')),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_meetings_cycle_id_cycles')),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_meetings_group_id_groups')),
    sa.ForeignKeyConstraint(['opened_by'], ['users.id'], name=op.f('fk_meetings_opened_by_users')),
    sa.ForeignKeyConstraint(['signed_by_member_id'], ['members.id'], name=op.f('fk_meetings_signed_by_member_id_members')),
    sa.ForeignKeyConstraint(['signed_recorded_by'], ['users.id'], name=op.f('fk_meetings_signed_recorded_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meetings')),
    sa.UniqueConstraint('cycle_id', 'meeting_no', name=op.f('uq_meetings_cycle_id_meeting_no'))
    )
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meetings_cycle_id'), ['cycle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_meetings_group_id'), ['group_id'], unique=False)
        batch_op.create_index('uq_meetings_one_open_per_group', ['group_id'], unique=True, sqlite_where=sa_text("status = 'open'"), postgresql_where=sa_text("status = 'open'"))

    op.create_table('role_assignments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('cycle_id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.Enum('voorzitter', 'boekhouder', 'geldteller', name='cycle_role', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('from_meeting_no', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_role_assignments_created_by_users')),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_role_assignments_cycle_id_cycles')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_role_assignments_member_id_members')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_role_assignments')),
    sa.UniqueConstraint('cycle_id', 'role', 'from_meeting_no', 'member_id', name=op.f('uq_role_assignments_cycle_id_role_from_meeting_no_member_id'))
    )
    with op.batch_alter_table('role_assignments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_role_assignments_cycle_id'), ['cycle_id'], unique=False)

    op.create_table('attendance',
    sa.Column('meeting_id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('status', sa.Enum('present', 'late', 'excused', 'absent', name='attendance_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('recorded_by', sa.Uuid(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('after_signature', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_attendance_meeting_id_meetings')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_attendance_member_id_members')),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_attendance_recorded_by_users')),
    sa.PrimaryKeyConstraint('meeting_id', 'member_id', name=op.f('pk_attendance'))
    )
    op.create_table('loans',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('cycle_id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('principal_cents', sa.BigInteger(), nullable=False),
    sa.Column('purpose', sa.String(length=100), nullable=True),
    sa.Column('term_meetings', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('requested', 'approved', 'rejected', 'disbursed', 'repaid', 'overdue', name='loan_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('requested_by', sa.Uuid(), nullable=False),
    sa.Column('decided_meeting_id', sa.Uuid(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.Uuid(), nullable=True),
    sa.Column('interest_rate_bp', sa.Integer(), nullable=True),
    sa.Column('interest_cents', sa.BigInteger(), nullable=True),
    sa.Column('disbursement_meeting_id', sa.Uuid(), nullable=True),
    sa.Column('due_meeting_no', sa.Integer(), nullable=True),
    sa.CheckConstraint('principal_cents > 0', name=op.f('ck_loans_principal_positive')),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_loans_cycle_id_cycles')),
    sa.ForeignKeyConstraint(['decided_by'], ['users.id'], name=op.f('fk_loans_decided_by_users')),
    sa.ForeignKeyConstraint(['decided_meeting_id'], ['meetings.id'], name=op.f('fk_loans_decided_meeting_id_meetings')),
    sa.ForeignKeyConstraint(['disbursement_meeting_id'], ['meetings.id'], name=op.f('fk_loans_disbursement_meeting_id_meetings')),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_loans_group_id_groups')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_loans_member_id_members')),
    sa.ForeignKeyConstraint(['requested_by'], ['users.id'], name=op.f('fk_loans_requested_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_loans'))
    )
    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_loans_cycle_id'), ['cycle_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loans_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_loans_member_id'), ['member_id'], unique=False)

    op.create_table('meeting_notes',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('meeting_id', sa.Uuid(), nullable=False),
    sa.Column('note', sa.String(length=500), nullable=False),
    sa.Column('recorded_by', sa.Uuid(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_meeting_notes_meeting_id_meetings')),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_meeting_notes_recorded_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_meeting_notes'))
    )
    with op.batch_alter_table('meeting_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_meeting_notes_meeting_id'), ['meeting_id'], unique=False)

    op.create_table('ledger_entries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('cycle_id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('meeting_id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.Enum('deposit', 'loan_disbursement', 'repayment_principal', 'repayment_interest', 'exit_payout', 'share_out_savings', 'share_out_interest', name='entry_kind', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('counted_by_member_id', sa.Uuid(), nullable=True),
    sa.Column('witness_member_ids', sa.JSON(), nullable=False),
    sa.Column('loan_id', sa.Uuid(), nullable=True),
    sa.Column('reverses_id', sa.Uuid(), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('recorded_by', sa.Uuid(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('hash', sa.String(length=64), nullable=False),
    sa.CheckConstraint('amount_cents != 0', name=op.f('ck_ledger_entries_amount_not_zero')),
    sa.ForeignKeyConstraint(['counted_by_member_id'], ['members.id'], name=op.f('fk_ledger_entries_counted_by_member_id_members')),
    sa.ForeignKeyConstraint(['cycle_id'], ['cycles.id'], name=op.f('fk_ledger_entries_cycle_id_cycles')),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name=op.f('fk_ledger_entries_loan_id_loans')),
    sa.ForeignKeyConstraint(['meeting_id'], ['meetings.id'], name=op.f('fk_ledger_entries_meeting_id_meetings')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_ledger_entries_member_id_members')),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_ledger_entries_recorded_by_users')),
    sa.ForeignKeyConstraint(['reverses_id'], ['ledger_entries.id'], name=op.f('fk_ledger_entries_reverses_id_ledger_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ledger_entries')),
    sa.UniqueConstraint('cycle_id', 'seq', name=op.f('uq_ledger_entries_cycle_id_seq')),
    sa.UniqueConstraint('reverses_id', name=op.f('uq_ledger_entries_reverses_id'))
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_entries_loan_id'), ['loan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_meeting_id'), ['meeting_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_member_id'), ['member_id'], unique=False)

    op.create_table('loan_votes',
    sa.Column('loan_id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('vote', sa.String(length=10), nullable=False),
    sa.ForeignKeyConstraint(['loan_id'], ['loans.id'], name=op.f('fk_loan_votes_loan_id_loans')),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_loan_votes_member_id_members')),
    sa.PrimaryKeyConstraint('loan_id', 'member_id', name=op.f('pk_loan_votes'))
    )

    _append_only_ledger()


def downgrade() -> None:
    _drop_append_only_ledger()
    op.drop_table('loan_votes')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entries_member_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_meeting_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_loan_id'))

    op.drop_table('ledger_entries')
    with op.batch_alter_table('meeting_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_meeting_notes_meeting_id'))

    op.drop_table('meeting_notes')
    with op.batch_alter_table('loans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_loans_member_id'))
        batch_op.drop_index(batch_op.f('ix_loans_group_id'))
        batch_op.drop_index(batch_op.f('ix_loans_cycle_id'))

    op.drop_table('loans')
    op.drop_table('attendance')
    with op.batch_alter_table('role_assignments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_role_assignments_cycle_id'))

    op.drop_table('role_assignments')
    with op.batch_alter_table('meetings', schema=None) as batch_op:
        batch_op.drop_index('uq_meetings_one_open_per_group', sqlite_where=sa_text("status = 'open'"), postgresql_where=sa_text("status = 'open'"))
        batch_op.drop_index(batch_op.f('ix_meetings_group_id'))
        batch_op.drop_index(batch_op.f('ix_meetings_cycle_id'))

    op.drop_table('meetings')
    with op.batch_alter_table('cycles', schema=None) as batch_op:
        batch_op.drop_index('uq_cycles_one_unclosed_per_group', sqlite_where=sa_text("status != 'closed'"), postgresql_where=sa_text("status != 'closed'"))
        batch_op.drop_index(batch_op.f('ix_cycles_group_id'))

    op.drop_table('cycles')


PG_FUNCTION = """
CREATE FUNCTION ledger_entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are append-only: % refused', TG_OP USING ERRCODE = 'restrict_violation';
END;
$$
"""


def _append_only_ledger() -> None:
    """Even a bug (or a person at the database prompt) can't change or remove an entry."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute("CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries "
                   "FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()")
        op.execute("CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries "
                   "FOR EACH ROW EXECUTE FUNCTION ledger_entries_append_only()")
        op.execute("CREATE TRIGGER ledger_entries_no_truncate BEFORE TRUNCATE ON ledger_entries "
                   "FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_append_only()")
    else:
        op.execute("CREATE TRIGGER ledger_entries_no_update BEFORE UPDATE ON ledger_entries "
                   "BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: UPDATE refused'); END")
        op.execute("CREATE TRIGGER ledger_entries_no_delete BEFORE DELETE ON ledger_entries "
                   "BEGIN SELECT RAISE(ABORT, 'ledger entries are append-only: DELETE refused'); END")


def _drop_append_only_ledger() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for name in ("no_update", "no_delete", "no_truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS ledger_entries_{name} ON ledger_entries")
        op.execute("DROP FUNCTION IF EXISTS ledger_entries_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_no_update")
        op.execute("DROP TRIGGER IF EXISTS ledger_entries_no_delete")
