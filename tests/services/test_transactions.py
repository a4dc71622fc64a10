"""read_only_transaction: reads that neither wait for nor hold up writers (SQLite's one write
lock), and a guard against writing inside one."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select, text, update

from server.extensions import db, read_only_transaction
from server.models import Region


def _name(code: str) -> str:
    return db.session.scalar(select(Region.name).where(Region.code == code))


def _committed_name(code: str) -> str:
    """Read, then end the transaction (as a request's checks begin with none open)."""
    name = _name(code)
    db.session.rollback()
    return name


def test_a_read_only_block_reads_while_another_connection_is_writing(ctx):
    """On SQLite another connection's open write holds the database's write lock; an ordinary
    transaction would wait for it (up to the busy timeout), a read-only one reads at once the
    last committed state. On PostgreSQL readers never wait: the same holds."""
    before = _committed_name("140427")
    with db.engine.connect() as writer:
        writer.begin()
        writer.execute(update(Region).where(Region.code == "140427").values(name="改过的名字"))
        with read_only_transaction():
            seen = _name("140427")
        writer.rollback()
    assert seen == before
    assert not db.session().in_transaction()  # the block ended its transaction


def test_a_write_inside_a_read_only_block_is_refused_and_nothing_is_written(ctx):
    before = _committed_name("140427")
    with pytest.raises(RuntimeError, match="read_only_transaction"), read_only_transaction():
        region = db.session.get(Region, "140427")
        region.name = "不该写入"
        db.session.flush()
    assert _name("140427") == before


def test_inside_an_open_transaction_the_block_is_part_of_it_and_ends_nothing(ctx):
    db.session.execute(update(Region).where(Region.code == "140427").values(name="未提交的名字"))
    with read_only_transaction():
        assert _name("140427") == "未提交的名字"
    assert db.session().in_transaction()
    db.session.rollback()
    assert _name("140427") != "未提交的名字"


def test_objects_read_in_the_block_can_still_be_read_afterwards(ctx):
    with read_only_transaction():
        region = db.session.get(Region, "140427")
    assert region.name == _name("140427")  # expired by the block's end, then loaded again


def test_on_sqlite_only_writing_transactions_take_the_write_lock(app, ctx):
    """SQLite: the read-only block begins DEFERRED, everything else IMMEDIATE."""
    begun: list[str] = []

    def record(_conn, _cursor, statement, *_args):
        if statement.startswith("BEGIN"):
            begun.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        with read_only_transaction():
            db.session.execute(text("SELECT 1"))
        db.session.execute(text("SELECT 1"))
        db.session.rollback()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert begun == (["BEGIN", "BEGIN IMMEDIATE"] if db.engine.dialect.name == "sqlite" else [])
