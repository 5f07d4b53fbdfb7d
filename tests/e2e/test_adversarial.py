"""Forged and random input against the real dispatcher (issue 16, "Bounded input").

A resident's case exists and is owned by a worker of grid DC-XS-01.  Then
people with no right to it (a resident of another grid, a worker and staff
of another community, a stranger who never registered) press forged buttons:
every callback prefix the bot uses, with real and random fields, huge and
negative numbers, wrong arity and unicode.  Nothing may raise (every stored
update ends ``done``, none ``failed``) and nothing they have no right to
may change (cases, their events, appointments, the diary, households, role
grants, holidays, canned replies, broadcasts).

The property test (Hypothesis) runs a modest, derandomized number of
examples so the suite stays fast and CI deterministic.
"""

from __future__ import annotations

import asyncio
import itertools

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from models import (
    Appointment,
    AppointmentClosure,
    AppointmentPlan,
    Broadcast,
    CannedReply,
    Case,
    CaseEscalation,
    CaseEvent,
    CaseFollower,
    CaseRating,
    DiaryEntry,
    Holiday,
    Household,
    HouseholdTag,
    InboundStatus,
    InboundUpdate,
    RoleGrant,
    User,
)
from tests.e2e.cases.helpers import (
    ADMIN,
    NEIGHBOUR,
    OTHER_WORKER,
    RESIDENT,
    WORKER,
    case_by_number,
    file_proxy,
    people,
    person,
    zh,
)
from tests.e2e.harness import Person, RunningBot

STRANGER = 7999000001  # never registered

# Every callback prefix the bot packs, with the actions its handlers register
# (the on_press / filter tables of handlers/*; an action missing here is still
# reached by the random strategy).
PREFIXES: dict[str, list[str]] = {
    "cs": ["view", "rfr", "files", "emg", "emgy", "eack", "chat", "note", "ok", "nok", "ratep", "rate", "wd", "wdy",
           "acc", "start", "res", "canned", "cnd", "dept", "deptp", "ho", "hod"],
    "ce": ["ack", "rep"],
    "ci": ["forp", "forr", "svc", "resume", "discard", "when", "auth", "follow", "anyway", "emg"],
    "cx": [""],
    "cr": ["new", "edit", "del"],
    "ap": ["svcs", "svcsn", "svc", "svcn", "near", "st", "stn", "day", "tm", "ok", "my", "cx", "cxy", "keep", "rs",
           "rsn", "map", "rb", "rbo", "fpx", "fps", "fpy", "fhv", "fhy"],
    "aps": ["ag", "bk", "att", "ns", "close", "closey", "open", "plans", "plan", "pact", "pedit", "pnew", "pr"],
    "dy": ["anon", "case", "cat", "com", "day", "del", "delok", "done", "due", "e", "ec", "edit", "end", "files",
           "gmon", "grid", "hadd", "hc", "hist", "ht", "kb", "lb", "lg", "mon", "name", "new", "oc", "panel",
           "retag", "start", "tag", "undo", "vb", "vbp", "vc", "vh", "vu"],
    "rp": ["page", "scope", "period", "files"],
    "lang": ["zh-Hans", "en", "xx"],
    "pl": ["c", "g", "b"],
    "pg": ["c", "g", "b"],
    "inv": ["admin", "staff", "worker", "grid_head", "department"],
    "prof": ["phone", "home"],
    "cq": ["a", "w", "res", "new", "kind", "close", "send", "drop"],
    "cqs": ["district", "community", "grid", "building"],
    "fm": ["menu", "inv", "ok", "no", "end", "on", "off", "help", "rep", "cases", "appts"],
    "bcs": ["district", "community", "grid", "building"],
    "bcx": ["roots", "aud", "ack", "schedule", "when", "drop", "send"],
    "bca": [""],
    "bcc": ["pause", "resume", "cancel", "refresh"],
    "hm": ["list", "ok", "no"],
    "rvk": [""],
    "alog": [""],
}

HUGE = [2**63, 2**64, 10**23, 2**70, -1, -(2**63), -(2**70), 99999999999999999999999]


# ------------------------------------------------------------------ the scene

async def _scene(bot: RunningBot) -> tuple[Person, Person, int]:
    """The victim's case, filed and accepted; returns (resident, worker, case id)."""
    resident, worker = people(bot, RESIDENT, WORKER)
    await resident.send("/start")
    await worker.send("/start")
    number = await file_proxy(resident, "居住证明", "Within 3 days", "Collect my documents and hand them in for me",
                              "我的身份证号220502，请帮我开居住证明。")
    note = await worker.received(number)
    await worker.tap_in(note, zh("✅ Accept"))
    case = await case_by_number(bot, number)
    return resident, worker, case.id


async def _protected(bot: RunningBot, actor_tg: int) -> dict[str, list[tuple]]:  # type: ignore[type-arg]
    """What the actor may not change: everything not theirs."""
    sm = bot.app.sessionmaker
    async with sm() as s:
        uid = await s.scalar(select(User.id).where(User.telegram_id == actor_tg))
        uid = uid if uid is not None else -1

        def rows(model, *where):  # type: ignore[no-untyped-def]
            cols = [c for c in model.__table__.columns if c.name not in ("updated_at", "last_seen_at")]
            return select(*cols).where(*where).order_by(model.__table__.c.id)

        out = {}
        for name, stmt in {
            "cases": rows(Case, Case.resident_id != uid),
            "events": rows(CaseEvent, CaseEvent.actor_id.is_distinct_from(uid)),
            "ratings": rows(CaseRating),
            "escalations": rows(CaseEscalation),
            "followers": rows(CaseFollower, CaseFollower.user_id != uid),
            "appointments": rows(Appointment, Appointment.resident_id != uid),
            "closures": rows(AppointmentClosure),
            "plans": rows(AppointmentPlan),
            "diary": rows(DiaryEntry, DiaryEntry.worker_id != uid),
            "households": rows(Household),
            "tags": rows(HouseholdTag),
            "grants": rows(RoleGrant),
            "holidays": rows(Holiday),
            "canned": rows(CannedReply),
            "broadcasts": rows(Broadcast),
        }.items():
            out[name] = [tuple(r) for r in (await s.execute(stmt)).all()]
    return out


async def _failed_updates(bot: RunningBot) -> list[tuple]:  # type: ignore[type-arg]
    async with bot.app.sessionmaker() as s:
        return [tuple(r) for r in (await s.execute(
            select(InboundUpdate.update_id, InboundUpdate.last_error)
            .where(InboundUpdate.status != InboundStatus.done))).all()]


# ------------------------------------------------------------------ the overflow of the issue

async def test_forged_huge_id_is_a_stale_button_not_a_crash(bot):
    resident, _worker, case_id = await _scene(bot)
    for data in ("cs:view:99999999999999999999999:0", f"cs:view:{case_id}:{2**70}", f"cs:view:-{2**70}:0",
                 "ap:st:1:1:99999999999999999999:0:0", "aps:ag:1:1:0:0:0", "dy:hh:18446744073709551616:0:",
                 "bcc:pause:0", "rp:scope:grid:99999999999999999999999::0", "cx:-1"):
        await resident.forge(data)
        answer = resident.last_callback_answer()
        assert answer["text"] == zh("This button is no longer valid."), (data, answer)
    assert await _failed_updates(bot) == []


async def test_days_out_of_range_are_refused(bot):
    resident, _worker, _case_id = await _scene(bot)
    admin = person(bot, ADMIN)
    await admin.send("/start")
    for text in ("/holiday 0001-01-01 off 元旦", "/holiday 9999-12-31 off x"):
        reply = await admin.send(text)
        assert "/holiday 2026-10-01" in reply[-1].text  # the usage line, nothing saved
    for data in ("dy:dm:0:0:0001-01", "dy:dd:0:0:0001-01-01|0", "rp:period:grid:1:d00010101-00010102:0",
                 "ap:day:1:1:1:0:0"):
        await admin.forge(data)
    assert await _failed_updates(bot) == []
    async with bot.app.sessionmaker() as s:
        days = (await s.scalars(select(Holiday.day))).all()
    assert all(2000 <= d.year <= 2100 for d in days), days


# ------------------------------------------------------------------ every prefix × who must be refused

def _forged_for(case_id: int) -> list[str]:
    """Every prefix with every action, aimed at the victim's case (and id 1 of everything else)."""
    out = []
    for prefix, actions in PREFIXES.items():
        for action in actions:
            if prefix in ("cs",):
                out += [f"cs:{action}:{case_id}:0", f"cs:{action}:{case_id}:5"]
            elif prefix == "ce":
                out.append(f"ce:{action}:1")
            elif prefix == "cx":
                out.append("cx:0")
            elif prefix == "ap":
                out.append(f"ap:{action}:1:1:0:1:0")
            elif prefix == "aps":
                out.append(f"aps:{action}:1:0:1:1:0")
            elif prefix == "dy":
                out.append(f"dy:{action}:1:0:")
            elif prefix == "rp":
                out.append(f"rp:{action}:grid:1:tm:0")
            elif prefix == "inv":
                out += [f"inv:{action}:0", f"inv:{action}:1"]
            elif prefix in ("bca",):
                out.append("bca:1")
            elif prefix == "bcc":
                out.append(f"bcc:{action}:1")
            elif prefix == "bcs":
                out += [f"bcs:{action}:1:0", f"bcs:{action}:1:1"]
            elif prefix == "bcx":
                out.append(f"bcx:{action}:1")
            elif prefix == "cr":
                out.append(f"cr:{action}:1")
            elif prefix == "rvk":
                out += [f"rvk:{n}:0:0" for n in range(1, 4)] + [f"rvk:{n}:1:1" for n in range(1, 4)]
            elif prefix == "alog":
                out.append("alog:0")
            elif prefix == "hm":
                out += [f"hm:{action}:{n}" for n in range(1, 4)]
            elif prefix == "cq":
                out += [f"cq:{action}:1:0", f"cq:{action}:1:1"]
            elif prefix == "cqs":
                out += [f"cqs:{action}:1:0", f"cqs:{action}:1:1"]
            elif prefix == "fm":
                out += [f"fm:{action}:1:{n}" for n in range(1, 4)]
            else:
                out.append(f"{prefix}:{action}")
    return out


@pytest.mark.parametrize("actor_tg,name,register", [
    (NEIGHBOUR, "李志远", True),  # a resident of another grid
    (OTHER_WORKER, "谢东", True),  # a worker of another community's grid
    (7000000017, "陈静", True),  # a worker of another grid of the same community
    (7000000016, "刘洋", True),  # the grid head of another grid
    (7000000003, "陈立新", True),  # staff of another community (Minzhu)
    (7000000006, "孙丽娟", True),  # an officer of a department the case never reached (SF)
    (STRANGER, "陌生人", False),  # never registered
])
async def test_every_prefix_is_refused_to_those_without_the_right(bot, actor_tg, name, register):
    _resident, _worker, case_id = await _scene(bot)
    actor = person(bot, actor_tg, name)
    if register:
        await actor.send("/start")
    before = await _protected(bot, actor_tg)
    for data in _forged_for(case_id):
        await actor.forge(data)
    after = await _protected(bot, actor_tg)
    for table in before:
        assert after[table] == before[table], table
    assert await _failed_updates(bot) == []
    # The victim's words never reached the actor.
    assert not any("220502" in (m.content or "") for m in actor.messages())


# ------------------------------------------------------------------ random and adversarial data

_int_field = st.one_of(
    st.integers(min_value=-3, max_value=40),  # ids of the demo district and of the scene
    st.sampled_from(HUGE),
    st.integers(min_value=-(2**80), max_value=2**80),
).map(str)
_text_field = st.one_of(
    st.sampled_from(["", "0", "|", "tm", "dates", "2026-12", "0001-01-01|0", "d00010101-99991231", "grid", "x"]),
    st.text(max_size=8),
)
_field = st.one_of(_int_field, _int_field, _text_field)


# How many fields follow each prefix (its CallbackData's fields, the first one the action).
ARITY = {"cs": 3, "ce": 2, "ci": 2, "cx": 1, "cr": 2, "ap": 6, "aps": 6, "dy": 4, "rp": 5, "lang": 1, "pl": 2,
         "pg": 3, "inv": 2, "prof": 1, "bcs": 3, "bcx": 2, "bca": 1, "bcc": 2, "hm": 2, "rvk": 3, "alog": 1,
         "cq": 3, "cqs": 3, "fm": 3}
NO_ACTION = {"cx", "bca", "rvk", "alog"}  # only numbers


@st.composite
def callback_data(draw: st.DrawFn) -> str:
    """A prefix the bot uses; mostly the right number of fields (so the data reaches a
    handler), sometimes the wrong one; real actions or random ones; numbers small,
    huge, negative or not numbers at all."""
    prefix = draw(st.sampled_from(sorted(PREFIXES)))
    arity = draw(st.one_of(st.just(ARITY[prefix]), st.integers(min_value=0, max_value=7)))
    head = [] if prefix in NO_ACTION else [draw(st.one_of(st.sampled_from(PREFIXES[prefix]), st.text(max_size=4)))]
    fields = draw(st.lists(_field, min_size=max(arity - len(head), 0), max_size=max(arity - len(head), 0)))
    data = ":".join([prefix, *head, *fields])
    return data.encode()[:64].decode(errors="ignore")  # Telegram's limit: 64 bytes


texts = st.one_of(
    st.sampled_from(["/start", "/menu", "/holiday 0001-01-01 off x", "/holiday 2026-10-01 off 国庆",
                     "/diary 0001-01-01", "/report", "/cancel", "/help", zh("🙋 Ask for help"), "9" * 30,
                     "/start inv_" + "A" * 20, "/start c_99999999999999999999999", "/start fam_" + "A" * 32,
                     "/consult", "/family"]),
    st.text(min_size=1, max_size=40),
)


async def test_random_callbacks_and_texts_break_nothing(bot):
    """Hypothesis feeds random presses and texts from a resident, a worker and staff
    (each only for what is theirs) and from outsiders; the dispatcher never fails, and
    outsiders change nothing."""
    _resident, _worker, _case_id = await _scene(bot)
    outsider = person(bot, NEIGHBOUR)
    await outsider.send("/start")
    insiders = [person(bot, uid, n) for uid, n in ((RESIDENT, "王桂芝"), (WORKER, "张伟"), (7000000002, "刘秀梅"))]
    for p in insiders:
        await p.send("/start")
    loop = asyncio.get_running_loop()
    rotation = itertools.cycle(insiders)

    @settings(max_examples=80, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(data=callback_data(), text=texts)
    @example(data="cs:view:99999999999999999999999:0", text="/start")  # the issue's own
    @example(data="ap:day:1:1:1:0:0", text="/holiday 0001-01-01 off x")  # a day in year 1
    @example(data="dy:lb:1:0:99999999999999999999999", text="9" * 30)
    def run(data: str, text: str) -> None:
        insider = next(rotation)

        async def one() -> None:
            before = await _protected(bot, NEIGHBOUR)
            await outsider.forge(data)
            assert await _protected(bot, NEIGHBOUR) == before, data
            await insider.forge(data)
            await insider.send(text)
            if text.strip():
                await outsider.send(text)

        asyncio.run_coroutine_threadsafe(one(), loop).result(60)

    await asyncio.to_thread(run)
    assert await _failed_updates(bot) == []
