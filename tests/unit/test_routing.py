"""bot.routing.compile_routing picks the handler aiogram's own routing picks: every
conversation state, with every menu label (in two languages), commands, free text
and other kinds of message, for people of several roles, in private and group
chats, and button presses.  The handlers are replaced by recorders, so the
comparison is of routing alone."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, Dispatcher, Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.filters import StateFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Chat, Contact, Location, Message
from aiogram.types import User as TgUser
from babel.support import LazyProxy

from bot.config import Settings
from bot.i18n import create_i18n
from bot.routing import CompiledRouting, compile_routing
from handlers.callbacks import PrivacyCb, ProfileCb
from handlers.routers import get_routers
from models import Role, RoleGrant, ScopeType, User

DATE = datetime(2026, 12, 5, tzinfo=UTC)
TEXTS = ["我家楼道的灯坏了", "hello", "", " ", "/start", "/start inv_abc", "/start fam_abc", "/help", "/menu",
         "/cancel", "/privacy", "/mydata", "/deletemydata", "/inbox", "/nosuchcommand", "/help@gridbot_test",
         "/help@another_bot", "  /language", "/", "1", "2026-12-01 2026-12-31", "张三", "13800000000"]


def _dispatcher(compiled: bool) -> tuple[Dispatcher, list[str]]:
    dp = Dispatcher()
    dp.include_routers(*get_routers())
    chosen: list[str] = []

    def record(router: Router) -> None:
        for name, observer in router.observers.items():
            for handler in observer.handlers:
                label = f"{router.name}.{name}.{handler.callback.__name__}#{observer.handlers.index(handler)}"

                async def recorder(*_: Any, _label: str = label, **__: Any) -> str:
                    chosen.append(_label)
                    return _label

                handler.callback, handler.awaitable, handler.params, handler.varkw = recorder, True, set(), True
        for sub in router.sub_routers:
            record(sub)

    record(dp)
    if compiled:
        compile_routing(dp)
    return dp, chosen


def _states(routers: list[Router]) -> set[str | None]:
    found: set[str | None] = {None}

    def add(state: Any) -> None:
        if isinstance(state, State):
            found.add(state.state)
        elif isinstance(state, type) and issubclass(state, StatesGroup):
            found.update(s.state for s in state.__all_states__)
        elif isinstance(state, str):
            found.add(state)

    for router in routers:
        for observer in router.observers.values():
            for handler in observer.handlers:
                for item in handler.filters or ():
                    original = getattr(item.callback, "__wrapped__", item.callback)
                    if isinstance(original, State):
                        add(original)
                    elif isinstance(original, StateFilter):
                        for state in original.states:
                            add(state)
        found.update(_states(router.sub_routers))
    return found


def _labels(routers: list[Router]) -> list[Any]:
    """The constants the magic filters compare texts with (lazy labels included)."""
    found: list[Any] = []
    for router in routers:
        for observer in router.observers.values():
            for handler in observer.handlers:
                for item in handler.filters or ():
                    for operation in getattr(item.magic, "_operations", ()):
                        # A comparison's constant, or the collection of ``F.text.in_(...)``.
                        for right in (getattr(operation, "right", None), *getattr(operation, "args", ())):
                            if isinstance(right, str | LazyProxy):
                                found.append(right)
                            elif isinstance(right, list | tuple | set | frozenset):
                                found.extend(r for r in right if isinstance(r, str | LazyProxy))
        found.extend(_labels(router.sub_routers))
    return found


def _people() -> list[tuple[str, User]]:
    def grant(role: Role, scope: ScopeType) -> RoleGrant:
        return RoleGrant(role=role, scope_type=scope, scope_id=1)

    return [
        ("stranger", User(telegram_id=5, first_name="A", roles=[])),
        ("resident", User(telegram_id=5, first_name="A", building_id=1, grid_id=1, registered_at=DATE, roles=[])),
        ("worker", User(telegram_id=5, first_name="A", building_id=1, grid_id=1, registered_at=DATE,
                        roles=[grant(Role.worker, ScopeType.grid)])),
        ("staff", User(telegram_id=5, first_name="A", registered_at=DATE,
                       roles=[grant(Role.staff, ScopeType.community), grant(Role.admin, ScopeType.community)])),
        ("department", User(telegram_id=5, first_name="A", registered_at=DATE,
                            roles=[grant(Role.department, ScopeType.department)])),
    ]


async def _route(dp: Dispatcher, chosen: list[str], update_type: str, event: Any, kwargs: dict[str, Any]) -> str:
    chosen.clear()
    try:
        result = await dp.propagate_event(update_type, event, **kwargs)
    except Exception as exc:  # noqa: BLE001 - a filter failing must fail the same way in both
        return f"raised {type(exc).__name__}: {exc}"
    assert len(chosen) <= 1
    return "unhandled" if result is UNHANDLED else str(result)


async def test_compiled_routing_chooses_the_handler_aiogram_chooses():
    plain, plain_chosen = _dispatcher(compiled=False)
    fast, fast_chosen = _dispatcher(compiled=True)
    routers = get_routers()
    states, labels = sorted(_states(routers), key=str), _labels(routers)
    assert len(states) > 30 and len(labels) > 20  # the walk found the project's states and labels
    i18n = create_i18n()
    settings = Settings(_env_file=None, BOT_TOKEN="111111111:routing-test", DATABASE_URL="sqlite+aiosqlite://")
    bot = Bot("111111111:routing-test")
    bot._me = TgUser(id=111111111, is_bot=True, first_name="Bot", username="gridbot_test")  # no getMe call
    sender = TgUser(id=5, is_bot=False, first_name="A", language_code="zh-hans")
    compared, seen = 0, set()
    for locale in ("zh-Hans", "en"):
        with i18n.context(), i18n.use_locale(locale):
            texts = list(dict.fromkeys([*TEXTS, *(str(label) for label in labels)]))
            for chat_type in ("private", "group"):
                chat = Chat(id=5 if chat_type == "private" else -100, type=chat_type)
                messages = [Message(message_id=1, date=DATE, chat=chat, from_user=sender, text=t) for t in texts]
                messages += [
                    Message(message_id=1, date=DATE, chat=chat, from_user=sender,
                            location=Location(latitude=31.2, longitude=121.5)),
                    Message(message_id=1, date=DATE, chat=chat, from_user=sender,
                            contact=Contact(phone_number="+8613800000000", first_name="A", user_id=5)),
                    Message(message_id=1, date=DATE, chat=chat, from_user=sender, caption="/help"),
                ]
                presses = [CallbackQuery(id="1", from_user=sender, chat_instance="c", data=data,
                                         message=Message(message_id=2, date=DATE, chat=chat, text="x"))
                           for data in ("noop", "garbage", PrivacyCb(action="erase").pack(),
                                        PrivacyCb(action="keep").pack(), ProfileCb(action="privacy").pack())]
                for who, user in _people():
                    # Every state for a grid worker in a private chat in Chinese (the state checks
                    # come first, whoever it is); no state (the common case) for everyone everywhere.
                    every_state = chat_type == "private" and locale == "zh-Hans" and who == "worker"
                    for state in states if every_state else [None]:
                        kwargs = {"bot": bot, "event_from_user": sender, "event_chat": chat, "raw_state": state,
                                  "user": user, "i18n": i18n, "settings": settings, "session": None, "state": None}
                        for update_type, events in (("message", messages), ("edited_message", messages[:5]),
                                                    ("callback_query", presses)):
                            for event in events:
                                expected = await _route(plain, plain_chosen, update_type, event, dict(kwargs))
                                got = await _route(fast, fast_chosen, update_type, event, dict(kwargs))
                                assert got == expected, (locale, chat_type, who, state, update_type, event)
                                compared += 1
                                seen.add(expected)
    assert compared > 3_000
    assert len(seen) > 60, seen  # many handlers were reached (not everything unhandled or failing)
    await bot.session.close()


def test_a_state_check_leaves_a_handler_out_of_other_states_lists():
    dp = Dispatcher()
    dp.include_routers(*get_routers())
    routing = CompiledRouting(dp, "message")
    some_state = next(s for s in sorted(_states(get_routers()), key=str) if s is not None)
    assert len(routing.for_state(None)) < len(routing.entries)
    assert len(routing.for_state(some_state)) < len(routing.entries)
    assert routing.for_state(None) is routing.for_state(None)  # made once per state


def test_magic_filters_compiled_answer_as_magic_filter_does():
    """The shapes bot.routing compiles (attributes, a method's answer, ``~``, comparisons,
    ``in_``) give magic_filter's own answer for every kind of message."""
    from aiogram import F

    from bot.routing import _compile_magic

    chat = Chat(id=5, type="private")
    sender = TgUser(id=5, is_bot=False, first_name="A")
    events = [Message(message_id=1, date=DATE, chat=chat, from_user=sender, text=t) for t in TEXTS]
    events += [Message(message_id=1, date=DATE, chat=chat, from_user=sender, location=Location(latitude=1, longitude=2)),
               Message(message_id=1, date=DATE, chat=chat, from_user=sender, caption="/help"),
               CallbackQuery(id="1", from_user=sender, chat_instance="c", data="noop")]
    filters = [F.text, F.location, F.contact, F.from_user.id, F.text.startswith("/"), ~F.text.startswith("/"),
               ~F.location, ~F.text, F.data.startswith("n"), F.text == "hello", F.text != "hello",
               F.text.in_({"hello", "1"}), F.data == "noop", F.photo | F.voice, ~(F.text == "1"), F.text.len() > 3]
    for magic in filters:
        quick, _texts = _compile_magic(magic)
        for event in events:
            assert quick(event, None) == magic.resolve(event), (magic, event)


def test_a_strangers_words_are_offered_to_no_button_nor_command():
    """The plan looks texts up: free words skip every handler that waits for a label or a
    command; a label reaches its own handler, in its language."""
    i18n = create_i18n()
    dp = Dispatcher()
    dp.include_routers(*get_routers())
    routing = CompiledRouting(dp, "message")
    chat = Chat(id=5, type="private")
    for locale in ("zh-Hans", "en"):
        with i18n.context(), i18n.use_locale(locale):
            language = (i18n, locale)
            plan = routing._plan(None, language)
            words = plan.candidates(Message(message_id=1, date=DATE, chat=chat, text="我家楼道的灯坏了"))
            assert words is plan.always
            assert all(e.texts is None and e.prefixes is None for _, e in words)
            help_label = str(LazyProxy(lambda: i18n.gettext("❓ Help"), enable_cache=False))
            labelled = plan.candidates(Message(message_id=1, date=DATE, chat=chat, text=help_label))
            assert len(labelled) > len(words)
            assert [i for i, _ in labelled] == sorted(i for i, _ in labelled)  # aiogram's order kept
            command = plan.candidates(Message(message_id=1, date=DATE, chat=chat, text="/help"))
            assert any(e.prefixes for _, e in command)


async def test_a_handler_that_changes_the_language_passes_the_event_on_in_that_language():
    """A handler may set the locale and pass the event on (SkipHandler or UNHANDLED): the
    handlers after it are looked up in the new language, as aiogram compares them."""
    from aiogram.dispatcher.event.bases import SkipHandler

    from handlers import labels

    i18n = create_i18n()
    english_help = i18n.gettext("❓ Help", locale="en")

    def build(compiled: bool) -> tuple[Dispatcher, list[str]]:
        dp, seen = Dispatcher(), []
        first, second = Router(name="first"), Router(name="second")

        async def switch(message: Message) -> None:
            seen.append("switch")
            i18n.ctx_locale.set("en")
            raise SkipHandler

        async def helped(message: Message) -> str:
            seen.append("help")
            return "help"

        first.message.register(switch)
        second.message.register(helped, F.text == labels.HELP)
        dp.include_routers(first, second)
        if compiled:
            compile_routing(dp)
        return dp, seen

    from aiogram import F

    chat = Chat(id=5, type="private")
    message = Message(message_id=1, date=DATE, chat=chat, text=english_help)
    answers = []
    for compiled in (False, True):
        dp, seen = build(compiled)
        with i18n.context(), i18n.use_locale("zh-Hans"):
            result = await dp.propagate_event("message", message, raw_state=None)
        answers.append((result, seen))
    assert answers[0] == answers[1] == ("help", ["switch", "help"])


async def test_pure_filters_are_asked_directly_in_their_order_root_filters_too():
    """The audience and magic filters before a handler's first other filter are asked in the
    order they were given (aiogram stops at the first no: a filter after it is not asked), and
    a router's magic root filter (``F.chat.type == "private"``) is asked directly, its data
    passed on as aiogram passes it, instead of through aiogram's check_root_filters."""
    from aiogram import F

    from handlers.filters import UserFilter

    class Registered(UserFilter):
        def allows(self, user: User | None) -> bool:
            return user is not None and user.registered_at is not None

    def build(compiled: bool) -> tuple[Dispatcher, list[str], Router]:
        dp, asked = Dispatcher(), []

        def spy(name: str) -> Any:
            def look(event: Any) -> bool:
                asked.append(name)
                return True
            return look

        router = Router(name="private")
        router.message.filter(F.chat.type == "private", F.func(lambda _m: {"room": "private"}))

        async def after_user(message: Message, room: str) -> str:
            return f"after_user in {room}"

        async def before_user(message: Message, room: str) -> str:
            return f"before_user in {room}"

        router.message.register(after_user, Registered(), F.func(spy("after_user")))
        router.message.register(before_user, F.func(spy("before_user")), Registered())
        dp.include_router(router)
        if compiled:
            compile_routing(dp)
        return dp, asked, router

    sender = TgUser(id=5, is_bot=False, first_name="A")
    stranger, resident = _people()[0][1], _people()[1][1]
    cases = [(Chat(id=5, type="private"), stranger), (Chat(id=5, type="private"), resident),
             (Chat(id=-100, type="group"), resident)]
    outcomes = []
    for compiled in (False, True):
        dp, asked, router = build(compiled)
        root_checks = []
        original = router.message.check_root_filters

        async def counted(*args: Any, _checks: list[int] = root_checks, _original: Any = original,
                          **kwargs: Any) -> Any:
            _checks.append(1)
            return await _original(*args, **kwargs)

        router.message.check_root_filters = counted  # type: ignore[method-assign]
        seen = []
        for chat, user in cases:
            asked.clear()
            message = Message(message_id=1, date=DATE, chat=chat, from_user=sender, text="hello")
            result = await dp.propagate_event("message", message, raw_state=None, user=user)
            seen.append((result, sorted(set(asked))))  # a pure filter may be asked again by aiogram's check
        outcomes.append(seen)
        assert (len(root_checks) == 0) if compiled else (len(root_checks) == len(cases))
    # The same handler, with the same data from the root filters, either way.
    assert [r for r, _ in outcomes[0]] == [r for r, _ in outcomes[1]] == [
        UNHANDLED, "after_user in private", UNHANDLED]
    # A stranger: Registered says no before after_user's spy, which is not asked (nor by aiogram).
    assert outcomes[0][0][1] == outcomes[1][0][1] == ["before_user"]
    # (The root filters are asked when a handler of their router is about to be, so a handler's
    # own pure filters may be asked before them: the module says so; here both spies were.)


async def test_a_command_filters_quick_no_is_aiograms_no():
    """The command's first questions (prefix, name, a deep link's arguments) say no only where
    aiogram's own filter says no, and do say it for another command's text."""
    import re

    from aiogram.filters import Command, CommandStart
    from aiogram.types import User as BotUser

    from bot.routing import _command_quick

    bot = Bot("42:TEST")
    bot._me = BotUser(id=42, is_bot=True, first_name="Bot", username="gridbot_test")
    chat = Chat(id=5, type="private")
    filters = [Command("family"), Command("help", "menu"), Command("Help", ignore_case=True),
               Command(re.compile(r"it\w+")), Command("go", prefix="!/"), CommandStart(),
               CommandStart(deep_link=True), CommandStart(deep_link=False), Command("help", ignore_mention=True)]
    texts = [*TEXTS, "/HELP", "/Help@gridbot_test", "!go now", "/items", "/start@another_bot x", "\n/menu\n"]
    said_no = set()
    for command in filters:
        quick = _command_quick(command)
        for text in texts:
            for message in (Message(message_id=1, date=DATE, chat=chat, text=text or None),
                            Message(message_id=1, date=DATE, chat=chat, caption=text or None,
                                    location=Location(latitude=1, longitude=2))):
                if not quick(message, None):
                    said_no.add((str(command), text))
                    assert not await command(message, bot), (command, text)
    assert (str(Command("family")), "/start") in said_no
    assert (str(CommandStart(deep_link=True)), "/start") in said_no
    assert (str(CommandStart(deep_link=False)), "/start inv_abc") in said_no
    assert (str(Command("Help", ignore_case=True)), "/HELP") not in said_no
    await bot.session.close()
