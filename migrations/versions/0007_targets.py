"""targets (目标任务) per region, year and kind, with the seed clause of each figure
(000 一(一); 001 附件2; 004 一)

Revision ID: 0007_targets
Revises: 0006_claims
Create Date: 2026-12-04 02:37:06.102333

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_targets'
down_revision = '0006_claims'
branch_labels = None
depends_on = None


def upgrade():
    # The kind is VARCHAR + a named CHECK (models/types.py), so a new kind is a batch migration.
    op.create_table('targets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('region_code', sa.String(length=9), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('subsidised_trainees', 'new_skilled', 'new_high_skilled', 'specialised_town_trainees', 'labour_brand_trainees', name='target_kind', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('value', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.CheckConstraint('value >= 0', name=op.f('ck_targets_value_not_negative')),
    sa.ForeignKeyConstraint(['region_code'], ['regions.code'], name=op.f('fk_targets_region_code_regions')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_targets')),
    sa.UniqueConstraint('region_code', 'year', 'kind', name=op.f('uq_targets_region_code_year_kind'))
    )


def downgrade():
    op.drop_table('targets')
