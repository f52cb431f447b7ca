"""Seat layouts run from the screen backwards: grid row 0 is the row nearest the screen.

Before issue 16 the seat map drew the screen under the last row, so a layout's first line
(row A) was the back row. The map now draws the screen on top, as cinemas do; to keep every
seat where it physically is, each screen's layout lines are reversed and its seats' grid
rows flipped (retired seats too, so old tickets keep their place). Row letters stay exactly
as the admins gave them: those screens get row_a_at_back, so a later save letters the rows
from the back as before. layout_version is left alone: the seat-layout caches live in the
app processes, which a migration restarts.

The flip goes through negative rows first: the unique index on active cells is checked row
by row on PostgreSQL, so flipping in place would collide half way.

Revision ID: p16b_rows_from_screen
Revises: i15b_report_days
Create Date: 2026-12-06 02:40:00

"""
import sqlalchemy as sa
from alembic import op

revision = 'p16b_rows_from_screen'
down_revision = 'i15b_report_days'
branch_labels = None
depends_on = None

_OFFSET = 100000  # beyond any row a layout can have (at most 26)


def _flip_every_screen(row_a_at_back: bool) -> None:
    bind = op.get_bind()
    screens = bind.execute(sa.text('SELECT id, layout FROM screens')).all()
    for screen_id, layout in screens:
        lines = (layout or '').strip('\n').splitlines()
        if not lines:
            continue
        last = len(lines) - 1
        params = {'id': screen_id, 'offset': _OFFSET, 'last': last}
        bind.execute(
            sa.text('UPDATE seats SET grid_row = grid_row - :offset WHERE screen_id = :id'),
            params,
        )
        bind.execute(
            sa.text(
                'UPDATE seats SET grid_row = :last - (grid_row + :offset) WHERE screen_id = :id'
            ),
            params,
        )
        bind.execute(
            sa.text('UPDATE screens SET layout = :layout, row_a_at_back = :back WHERE id = :id'),
            {'id': screen_id, 'layout': '\n'.join(reversed(lines)), 'back': row_a_at_back},
        )


def upgrade():
    op.add_column(
        'screens',
        sa.Column('row_a_at_back', sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    _flip_every_screen(row_a_at_back=True)


def downgrade():
    # The old map drew the first line furthest from the screen: flip every screen back so
    # its seats stay where they are (a screen created since letters from the screen, which
    # the old editor cannot express; its seats keep their letters).
    _flip_every_screen(row_a_at_back=False)
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE screens DROP COLUMN row_a_at_back')
    else:
        op.drop_column('screens', 'row_a_at_back')
