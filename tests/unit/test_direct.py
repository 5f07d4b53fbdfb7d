"""Statements run on sqlite3 directly, and ORM objects made from their rows,
must read and write exactly what SQLAlchemy reads and writes (models/direct.py).

Every test runs on SQLite (direct) and on PostgreSQL (the session executes
the same statement), so both paths are held to the same answers.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import bindparam, func, insert, inspect, select, text, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import selectinload

from bot.services import users as svc
from models import FSMRecord, InboundStatus, InboundUpdate, Role, RoleGrant, ScopeType, User, utcnow
from models.direct import DirectStatement, column_defaults, persistent
from models.outbox import OutboxMessage


def _columns(obj: object) -> dict[str, object]:
    return {attr.key: getattr(obj, attr.key) for attr in inspect(type(obj)).column_attrs}


async def _user_with_roles(sessionmaker, telegram_id: int) -> int:  # type: ignore[no-untyped-def]
    async with sessionmaker() as s:
        user = User(telegram_id=telegram_id, first_name="李", last_name="四", username="lisi", locale="zh-Hant",
                    phone="+8613800000000", registered_at=datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC),
                    roles=[RoleGrant(role=Role.worker, scope_type=ScopeType.grid, scope_id=7),
                           RoleGrant(role=Role.staff, scope_type=ScopeType.community, scope_id=2)])
        s.add(user)
        await s.commit()
        return user.id


async def test_a_user_is_loaded_as_the_orm_loads_them(sessionmaker):
    await _user_with_roles(sessionmaker, 9001)
    async with sessionmaker() as s:
        by_orm = (await s.scalars(select(User).options(selectinload(User.roles))
                                  .where(User.telegram_id == 9001))).one()
        expected, expected_roles = _columns(by_orm), sorted(_columns(g)["id"] for g in by_orm.roles)
        grants = {g.id: _columns(g) for g in by_orm.roles}
    async with sessionmaker() as s:
        user, state = await svc.get_or_create_with_state(s, telegram_id=9001, first_name="李", last_name="四",
                                                          username="lisi", state_key="no-such-key")
        assert state == svc.NO_CONVERSATION
        assert _columns(user) == expected
        assert user.registered_at.tzinfo is not None and user.created_at.tzinfo is not None
        assert sorted(g.id for g in user.roles) == expected_roles
        assert {g.id: _columns(g) for g in user.roles} == grants
        assert {g.role for g in user.roles} == {Role.worker, Role.staff}
        # Part of the session, clean, and its relationships work without SQL.
        assert user in s and not s.new and not s.dirty
        assert all(g.user is user for g in user.roles)
        # Asked again in the same session, the same object comes back.
        again, _ = await svc.get_or_create_with_state(s, telegram_id=9001, first_name="李", last_name="四",
                                                       username="lisi")
        assert again is user
        # Changes are saved by the session, the collection included.
        user.locale = "en"
        user.roles.append(RoleGrant(role=Role.admin, scope_type=ScopeType.district, scope_id=1))
        await s.commit()
    async with sessionmaker() as s:
        saved = (await s.scalars(select(User).options(selectinload(User.roles)).where(User.telegram_id == 9001))).one()
        assert saved.locale == "en"
        assert {g.role for g in saved.roles} == {Role.worker, Role.staff, Role.admin}


async def test_a_changed_name_is_saved(sessionmaker):
    await _user_with_roles(sessionmaker, 9002)
    async with sessionmaker() as s:
        user, _ = await svc.get_or_create_with_state(s, telegram_id=9002, first_name="x" * 200)
        assert list(s.dirty) == [user]
        await s.commit()
    async with sessionmaker() as s:
        saved = (await s.scalars(select(User).where(User.telegram_id == 9002))).one()
        assert (saved.first_name, saved.last_name, saved.username) == ("x" * 128, None, None)


async def test_a_new_user_row_is_the_one_the_orm_writes(sessionmaker):
    async with sessionmaker() as s:
        made, state = await svc.get_or_create_with_state(s, telegram_id=9003, first_name="王", username="w",
                                                         state_key="k")
        assert state == svc.NO_CONVERSATION and made.id is not None and made.roles == []
        assert made in s and not s.new and not s.dirty
        # Before the privacy notice is agreed to, only the first name is kept (docs/privacy.md).
        assert made.username is None
        s.add(User(telegram_id=9004, first_name="王"))
        await s.commit()
    async with sessionmaker() as s:
        rows = {u.telegram_id: _columns(u) for u in (await s.scalars(select(User))).all()}
        sqlite = s.bind.dialect.name == "sqlite"
        raw = {r[0]: tuple(r[1:]) for r in (await s.execute(text(
            "SELECT telegram_id, typeof(created_at), length(created_at), typeof(unreachable), unreachable, "
            "typeof(first_name), typeof(registered_at) FROM users" if sqlite
            else "SELECT telegram_id, pg_typeof(created_at)::text, unreachable FROM users"))).all()}
    direct, orm = rows[9003], rows[9004]
    assert abs((direct.pop("created_at") - orm.pop("created_at")).total_seconds()) < 60
    for row in (direct, orm):
        row.pop("id"), row.pop("telegram_id")
    assert direct == orm
    assert raw[9003] == raw[9004]


async def test_a_statement_reads_and_writes_values_as_sqlalchemy_does(sessionmaker):
    table = InboundUpdate.__table__
    when = datetime(2026, 11, 27, 6, 0, 0, 1, tzinfo=UTC)
    add = DirectStatement(insert(table).values(bot_id=1, update_id=bindparam("u"), payload="{}",
                                               status=InboundStatus.pending, attempts=0,
                                               received_at=bindparam("at")).returning(table.c.id, table.c.status))
    read = DirectStatement(select(table.c.status, table.c.received_at, table.c.processed_at)
                           .where(table.c.update_id == bindparam("u")))
    mark = DirectStatement(update(table).where(table.c.update_id == bindparam("u"),
                                               table.c.status == InboundStatus.pending)
                           .values(status=InboundStatus.done, processed_at=bindparam("at")))
    async with sessionmaker() as s:
        (row_id, status), = (await add.run(s, {"u": 1, "at": when})).rows
        assert status is InboundStatus.pending
        await s.execute(insert(table).values(bot_id=1, update_id=2, payload="{}", status=InboundStatus.pending,
                                             attempts=0, received_at=when))
        assert (await mark.run(s, {"u": 1, "at": when + timedelta(seconds=1)})).rowcount == 1
        assert (await mark.run(s, {"u": 1, "at": when})).rowcount == 0  # the literal in WHERE is bound too
        await s.commit()
    async with sessionmaker() as s:
        assert (await read.run(s, {"u": 1})).rows == [(InboundStatus.done, when, when + timedelta(seconds=1))]
        assert (await read.run(s, {"u": 2})).rows == [(InboundStatus.pending, when, None)]
        await s.execute(update(table).where(table.c.update_id == 2).values(status=InboundStatus.done,
                                                                          processed_at=when + timedelta(seconds=1)))
        assert (await read.run(s, {"u": 3})).rows == []
        by_core = (await s.execute(select(table.c.status, table.c.received_at, table.c.processed_at)
                                   .where(table.c.update_id == 1))).one()
        assert tuple(by_core) == (InboundStatus.done, when, when + timedelta(seconds=1))
        # A statement's own values reach the database as SQLAlchemy's do.
        sqlite = s.bind.dialect.name == "sqlite"
        if sqlite:
            raw = (await s.execute(text("SELECT update_id, status, received_at, processed_at FROM inbound_updates "
                                        "ORDER BY update_id"))).all()
            assert raw[0][1:] == raw[1][1:]


async def test_errors_are_sqlalchemys_and_roll_back(sessionmaker):
    new = DirectStatement(insert(User.__table__).values(telegram_id=bindparam("t"), first_name="a",
                                                         unreachable=False, created_at=bindparam("at")))
    async with sessionmaker() as s:
        await new.run(s, {"t": 1, "at": utcnow()})
        with pytest.raises(IntegrityError):
            await new.run(s, {"t": 1, "at": utcnow()})
        await s.rollback()
    async with sessionmaker() as s:
        assert (await s.scalars(select(User))).all() == []
    with pytest.raises(SQLAlchemyError, match="required for bind parameter 'at'"):
        async with sessionmaker() as s:
            await new.run(s, {"t": 2})


async def test_statements_follow_the_sessions_transactions_and_pending_changes(sessionmaker):
    count = DirectStatement(select(func.count()).select_from(User.__table__))
    rename = DirectStatement(update(User.__table__).where(User.__table__.c.telegram_id == bindparam("t"))
                             .values(first_name=bindparam("name")))
    async with sessionmaker() as s:
        s.add(User(telegram_id=1, first_name="a"))
        assert (await count.run(s, {})).rows == [(1,)]  # flushed first, as session.execute would
        await s.commit()
        assert (await rename.run(s, {"t": 1, "name": "b"})).rowcount == 1  # a new transaction
        await s.rollback()
        assert (await rename.run(s, {"t": 1, "name": "c"})).rowcount == 1  # and another
        await s.commit()
        assert (await rename.run(s, {"t": 1, "name": "d"})).rowcount == 1
        await s.rollback()
    async with sessionmaker() as s:
        assert (await s.scalars(select(User.first_name))).all() == ["c"]


def test_what_cannot_be_done_directly_is_refused():
    with pytest.raises(TypeError, match="no value"):
        persistent(User, {"id": 1, "telegram_id": 2})
    with pytest.raises(TypeError, match="server-side default"):
        column_defaults(OutboxMessage.__table__, {}, skip=("id",))
    values = column_defaults(User.__table__, {"telegram_id": 5}, skip=("id",))
    assert values["first_name"] == "" and values["unreachable"] is False and values["locale"] is None
    assert values["created_at"].tzinfo is not None and "id" not in values


async def test_the_lookup_reads_the_conversation_row_with_the_user(sessionmaker):
    await _user_with_roles(sessionmaker, 9005)
    async with sessionmaker() as s:
        s.add(FSMRecord(key="k-9005", state="Form:name", data='{"step": 2}'))
        await s.commit()
    async with sessionmaker() as s:
        user, stored = await svc.get_or_create_with_state(s, telegram_id=9005, first_name="李", state_key="k-9005")
        assert stored == svc.StoredConversation("Form:name", '{"step": 2}')
        assert {g.role for g in user.roles} == {Role.worker, Role.staff}
        _, none = await svc.get_or_create_with_state(s, telegram_id=9005, first_name="李")
        assert none is svc.NO_STATE_READ


async def test_a_session_that_ran_direct_statements_is_freed_without_the_garbage_collector(sessionmaker):
    """No reference cycle through the session (its info once held its own transaction): a
    session, its transaction and its connection are freed when the update is done with them,
    not left to the collector, which then walked every update's objects twice."""
    import gc
    import weakref

    await _user_with_roles(sessionmaker, 9010)
    gc.collect()
    gc.disable()
    try:
        s = sessionmaker()
        await svc.get_or_create_with_state(s, telegram_id=9010, first_name="李", state_key="k")
        await DirectStatement(update(InboundUpdate).where(InboundUpdate.id == -1).values(attempts=1)).run(s, {})
        session, transaction = weakref.ref(s.sync_session), weakref.ref(s.sync_session.get_transaction())
        await s.commit()
        await s.close()
        del s
        assert session() is None and transaction() is None
    finally:
        gc.enable()
