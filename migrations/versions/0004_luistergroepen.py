"""luistergroepen: afspraken, session series, stored sessions, RSVPs, attendance, calendar feeds

Occurrences of a series are never stored in advance; a session gets a row only once there is something
to remember about it (a move, a cancellation, RSVPs, attendance). Feed tokens are stored as hashes only.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 12:39:46.543110
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('calendar_feeds',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=True),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(group_id IS NULL) <> (user_id IS NULL)', name=op.f('ck_calendar_feeds_one_owner')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_calendar_feeds_created_by_users')),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_calendar_feeds_group_id_groups')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_calendar_feeds_user_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_feeds')),
    sa.UniqueConstraint('group_id', name=op.f('uq_calendar_feeds_group_id')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_calendar_feeds_token_hash')),
    sa.UniqueConstraint('user_id', name=op.f('uq_calendar_feeds_user_id'))
    )
    op.create_table('group_agreements',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('items', sa.JSON(), nullable=False),
    sa.Column('set_by', sa.Uuid(), nullable=False),
    sa.Column('set_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_group_agreements_group_id_groups')),
    sa.ForeignKeyConstraint(['set_by'], ['users.id'], name=op.f('fk_group_agreements_set_by_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_group_agreements')),
    sa.UniqueConstraint('group_id', 'version', name=op.f('uq_group_agreements_group_id_version'))
    )
    with op.batch_alter_table('group_agreements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_group_agreements_group_id'), ['group_id'], unique=False)

    op.create_table('session_series',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('lineage_id', sa.Uuid(), nullable=False),
    sa.Column('lineage_key', sa.BigInteger(), nullable=False),
    sa.Column('previous_series_id', sa.Uuid(), nullable=True),
    sa.Column('rrule', sa.String(length=500), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('duration_minutes', sa.Integer(), nullable=False),
    sa.Column('location', sa.String(length=200), nullable=False),
    sa.Column('facilitator_user_id', sa.Uuid(), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=True),
    sa.Column('ended_from_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=False),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.CheckConstraint('capacity IS NULL OR capacity > 0', name=op.f('ck_session_series_capacity_positive')),
    sa.CheckConstraint('duration_minutes > 0', name=op.f('ck_session_series_duration_positive')),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_session_series_created_by_users')),
    sa.ForeignKeyConstraint(['facilitator_user_id'], ['users.id'], name=op.f('fk_session_series_facilitator_user_id_users')),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_session_series_group_id_groups')),
    sa.ForeignKeyConstraint(['previous_series_id'], ['session_series.id'], name=op.f('fk_session_series_previous_series_id_session_series')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_series'))
    )
    with op.batch_alter_table('session_series', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_series_group_id'), ['group_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_series_lineage_key'), ['lineage_key'], unique=False)

    op.create_table('session_occurrences',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('series_id', sa.Uuid(), nullable=False),
    sa.Column('original_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('location', sa.String(length=200), nullable=True),
    sa.Column('status', sa.Enum('scheduled', 'cancelled', name='session_status', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('cancel_reason', sa.String(length=200), nullable=True),
    sa.Column('changed_by', sa.Uuid(), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['changed_by'], ['users.id'], name=op.f('fk_session_occurrences_changed_by_users')),
    sa.ForeignKeyConstraint(['series_id'], ['session_series.id'], name=op.f('fk_session_occurrences_series_id_session_series')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_occurrences')),
    sa.UniqueConstraint('series_id', 'original_start', name=op.f('uq_session_occurrences_series_id_original_start'))
    )
    with op.batch_alter_table('session_occurrences', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_session_occurrences_series_id'), ['series_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_session_occurrences_starts_at'), ['starts_at'], unique=False)

    op.create_table('session_attendance',
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('recorded_by', sa.Uuid(), nullable=False),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_session_attendance_member_id_members')),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_session_attendance_recorded_by_users')),
    sa.ForeignKeyConstraint(['session_id'], ['session_occurrences.id'], name=op.f('fk_session_attendance_session_id_session_occurrences')),
    sa.PrimaryKeyConstraint('session_id', 'member_id', name=op.f('pk_session_attendance'))
    )
    op.create_table('session_rsvps',
    sa.Column('session_id', sa.Uuid(), nullable=False),
    sa.Column('member_id', sa.Uuid(), nullable=False),
    sa.Column('answer', sa.Enum('yes', 'no', 'maybe', 'waitlisted', name='rsvp_answer', native_enum=False, create_constraint=True, length=20), nullable=False),
    sa.Column('waitlist_seq', sa.Integer(), nullable=True),
    sa.Column('answered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('recorded_by', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['members.id'], name=op.f('fk_session_rsvps_member_id_members')),
    sa.ForeignKeyConstraint(['recorded_by'], ['users.id'], name=op.f('fk_session_rsvps_recorded_by_users')),
    sa.ForeignKeyConstraint(['session_id'], ['session_occurrences.id'], name=op.f('fk_session_rsvps_session_id_session_occurrences')),
    sa.PrimaryKeyConstraint('session_id', 'member_id', name=op.f('pk_session_rsvps'))
    )


def downgrade() -> None:
    op.drop_table('session_rsvps')
    op.drop_table('session_attendance')
    with op.batch_alter_table('session_occurrences', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_occurrences_starts_at'))
        batch_op.drop_index(batch_op.f('ix_session_occurrences_series_id'))

    op.drop_table('session_occurrences')
    with op.batch_alter_table('session_series', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_session_series_lineage_key'))
        batch_op.drop_index(batch_op.f('ix_session_series_group_id'))

    op.drop_table('session_series')
    with op.batch_alter_table('group_agreements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_group_agreements_group_id'))

    op.drop_table('group_agreements')
    op.drop_table('calendar_feeds')
