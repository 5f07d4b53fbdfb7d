"""The dispatcher's routing, deciding as aiogram does at a fraction of the cost (issue 15).

aiogram offers an update to its routers one by one: each router wraps its
middlewares, checks its root filters, then checks its handlers' filters in
order, through several layers of calls per filter.  gridbot has about thirty
routers and a hundred message handlers, and a message the early ones do not
take (a stranger's first words, which only the last router answers) paid
for about 140 filter checks: 0.8 ms, more than the rest of its handling.

:func:`compile_routing` keeps aiogram's decision and replaces the walk.  For
each kind of event it lists every handler below the dispatcher in aiogram's
order (a router's own handlers, then its sub-routers', depth first), and

* a handler whose first filters check the conversation state (a ``State`` or
  a ``StateFilter``) is left out of the list made for any other state (one
  list per state, made once);
* of the handlers left, the leading filters that are pure (the state
  checks, magic filters such as ``F.text == labels.HELP``, a command's
  prefix and name, the audience filters that answer from the user alone,
  ``handlers.filters.UserFilter``) are asked first, directly, in their order;
  one of them saying no means aiogram's check would say no, and the handler
  is passed over without it;
* a handler waiting for a label (``F.text == label``, ``F.text.in_(labels)``)
  or a command is not even asked: each state's list is sorted once per
  language (:class:`_Plan`) into the handlers any message may reach, those a
  given text reaches and those a command reaches, so a stranger's words are
  offered only to the dozen handlers that take free words;
* any other handler is checked by aiogram's own ``HandlerObject.check``,
  with the keyword arguments aiogram would give it (``event_router``, the data of
  its routers' root filters, ``handler``), and called through its routers'
  inner middlewares as aiogram calls it.

A router's root filters are checked when one of its handlers is about to be,
not before: so they must have no side effects (``compile_routing`` accepts
magic filters and ``handlers.filters`` audience filters only, and no outer
middleware below the dispatcher, or it leaves that kind of event to
aiogram).  They are asked directly too, their data passed on as aiogram's
``check_root_filters`` passes it.  ``tests/unit/test_routing.py`` sends every
state with every label, command and free text through both and compares the
handler chosen.
"""

from __future__ import annotations

import operator
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from aiogram import Dispatcher, Router
from aiogram.dispatcher.event.bases import REJECTED, UNHANDLED, SkipHandler
from aiogram.dispatcher.event.handler import FilterObject, HandlerObject
from aiogram.dispatcher.event.telegram import TelegramEventObserver
from aiogram.dispatcher.middlewares.manager import MiddlewareManager
from aiogram.filters import Command, CommandStart, StateFilter
from aiogram.fsm.state import State
from aiogram.types import TelegramObject
from aiogram.utils.i18n import I18n
from babel.support import LazyProxy
from magic_filter import MagicFilter
from magic_filter.operations import (
    CallOperation,
    ComparatorOperation,
    FunctionOperation,
    GetAttributeOperation,
    ImportantFunctionOperation,
)
from magic_filter.util import in_op

from bot.chains import ChainCache, inner_chain
from handlers.filters import UserFilter

Language = tuple[I18n, str] | None  # the catalogue and locale of the update being routed (None: none set)
Quick = Callable[[TelegramObject, Language], Any]
# A pure filter asked directly: (True, an audience filter's ``allows``, given the update's user)
# or (False, a Quick, given the event and the language).
PureCheck = tuple[bool, Callable[..., Any]]
# Root filters that may be checked late (or not at all): pure, no side effects.
_PURE_ROOT_FILTERS = (MagicFilter, UserFilter)


@dataclass(slots=True, eq=False)
class _Entry:
    handler: HandlerObject
    path: tuple[Router, ...]  # from the first router below the dispatcher down to the handler's own
    states: tuple[Any, ...]  # the leading state checks (State or StateFilter)
    # The pure filters after them, asked directly in their order: audience filters, compiled
    # magic filters, a command's first questions (its prefix, name and deep link).
    quick: tuple[PureCheck, ...]
    # What the first quick filter lets through, when it can be looked up instead of asked:
    # the texts of ``F.text == label`` or ``F.text.in_(labels)`` (in a language), or a command's
    # prefixes.  None: asked as it comes.
    texts: Callable[[Language], Any] | None = None
    prefixes: str | None = None
    # The observers of the dispatcher and of ``path``: their inner middlewares wrap the handler.
    observers: tuple[TelegramEventObserver, ...] = ()


def _original(item: FilterObject) -> Any:
    """What the filter was before ``handlers.routers.prepare_filters`` wrapped it."""
    if item.magic is not None:
        return item.magic
    return getattr(item.callback, "__wrapped__", item.callback)


def _language() -> Language:
    """The catalogue and locale current now (read once per routing, not per comparison)."""
    i18n = I18n.get_current(no_error=True)
    return None if i18n is None else (i18n, i18n.current_locale)


def _translated(constant: Any) -> Callable[[Language], Any]:
    """``constant`` as the handlers compare with it: a lazy label (or a collection of
    them) in the given language, translated once per catalogue and language."""
    items = tuple(constant) if isinstance(constant, tuple | list | set | frozenset) else None
    lazy = isinstance(constant, LazyProxy) or (items is not None and any(isinstance(i, LazyProxy) for i in items))
    if not lazy:
        return lambda _language: constant
    translations: weakref.WeakKeyDictionary[I18n, dict[str, Any]] = weakref.WeakKeyDictionary()
    # The last catalogue's translations at hand: a bot has one (a WeakKeyDictionary
    # lookup makes a weak reference each time, on every comparison of every message).
    last: list[Any] = [None, None]

    def current(language: Language) -> Any:
        if language is None:
            return constant
        i18n, locale = language
        if i18n is last[0]:
            by_locale = last[1]
        else:
            by_locale = translations.get(i18n)
            if by_locale is None:
                by_locale = translations[i18n] = {}
            last[0], last[1] = i18n, by_locale
        value = by_locale.get(locale)
        if value is None:
            value = by_locale[locale] = (tuple(str(i) if isinstance(i, LazyProxy) else i for i in items)
                                         if items is not None else str(constant))
        return value

    return current


def _resolving(magic: MagicFilter) -> Quick:
    """A magic filter not compiled: resolved by magic_filter, as aiogram does."""
    resolve = magic.resolve
    return lambda event, _language: resolve(event)


def _compile_magic(magic: MagicFilter) -> tuple[Quick, Callable[[Language], Any] | None]:
    """``F.a.b == x`` or ``F.a.b.in_(xs)`` (attributes, then one comparison with a
    constant) as a plain function answering as ``magic.resolve``, and for ``F.text == x``
    and ``F.text.in_(xs)`` the texts it lets through, by language (to be looked up, not
    asked: :class:`_Plan`).  A lazy label (``F.text == labels.HELP``) is translated once
    per catalogue and language, not at every comparison.  Other shapes: :func:`_compile_call`."""
    operations = magic._operations  # noqa: SLF001 - read only, to compile the common shape
    *attributes, last = operations
    if type(last) is GetAttributeOperation or type(last) is CallOperation or (
            type(last) is ImportantFunctionOperation and last.function is operator.not_):
        return _compile_call(magic), None
    if not attributes or not all(type(o) is GetAttributeOperation for o in attributes):
        return _resolving(magic), None
    if type(last) is ComparatorOperation and not isinstance(last.right, MagicFilter):
        comparator = last.comparator
        if isinstance(last.right, LazyProxy) and comparator not in (operator.eq, operator.ne):
            return _resolving(magic), None
        if isinstance(last.right, tuple | list | set | frozenset) and any(
                isinstance(i, LazyProxy) for i in last.right):
            # Compared whole (F.x == {lazy, …}): _translated would hand back a tuple of its
            # labels, which compares otherwise than the set or list itself.
            return _resolving(magic), None
        constant = _translated(last.right)
        equal = comparator is operator.eq
    elif (type(last) is FunctionOperation and last.function is in_op and len(last.args) == 1
          and not last.kwargs and not isinstance(last.args[0], MagicFilter)):
        constant = _translated(last.args[0])
        equal = False

        def comparator(value: Any, collection: Any) -> bool:
            try:
                return value in collection
            except TypeError:  # as magic_filter's in_op: not comparable, not in it
                return False
    else:
        return _resolving(magic), None
    names = tuple(o.name for o in attributes)  # type: ignore[attr-defined]

    def compare(event: Any, language: Language) -> Any:
        value = event
        for name in names:
            try:
                value = getattr(value, name)
            except AttributeError:  # magic_filter rejects: the comparison is skipped, the answer None
                return None
        return comparator(value, constant(language))

    if names != ("text",):
        return compare, None
    if equal:
        return compare, lambda language: (constant(language),)
    return compare, constant


def _compile_call(magic: MagicFilter) -> Quick:
    """``F.a.b`` (an attribute's value), ``F.a.m(args)`` (a method's answer, e.g.
    ``F.text.startswith("/")``) and either negated with ``~``, as plain functions answering
    as ``magic.resolve`` does: an attribute missing, or a method not callable, rejects
    (None), and ``~`` turns a rejection into True.  Any other shape is resolved."""
    operations = list(magic._operations)  # noqa: SLF001 - read only
    negated = (type(operations[-1]) is ImportantFunctionOperation and operations[-1].function is operator.not_
               and not operations[-1].args and not operations[-1].kwargs)  # type: ignore[attr-defined]
    if negated:
        operations.pop()
    call = operations.pop() if operations and type(operations[-1]) is CallOperation else None
    if not operations or not all(type(o) is GetAttributeOperation for o in operations):
        return _resolving(magic)
    names = tuple(o.name for o in operations)  # type: ignore[attr-defined]
    args, kwargs = (call.args, call.kwargs) if call is not None else ((), {})  # type: ignore[attr-defined]

    def value_of(event: Any) -> Any:
        value = event
        for name in names:
            try:
                value = getattr(value, name)
            except AttributeError:
                return None
        if call is not None:
            if not callable(value):
                return None
            return value(*args, **kwargs)
        return value

    if negated:
        return lambda event, _language: not value_of(event)
    return lambda event, _language: value_of(event)


def _root_check(original: Any) -> PureCheck:
    """A router's root filter (an audience or a magic filter) as a check asked directly."""
    if isinstance(original, UserFilter):
        return True, original.allows
    return False, _compile_magic(original)[0]


def _command_quick(command: Command) -> Quick:
    """A command filter's first questions, read as ``Command.extract_command`` reads the text:
    does it start with one of its prefixes, is the command one of its names (when they are
    all names, not patterns), and for ``CommandStart(deep_link=...)``, are there arguments as
    it wants?  A no is aiogram's no; a yes leaves the rest (the mention, which may ask
    Telegram who the bot is, the magic) to aiogram's check."""
    prefixes = command.prefix
    names = (frozenset(command.commands) if all(type(c) is str for c in command.commands)
             else None)  # aiogram casefolds them already when ignore_case
    fold = command.ignore_case
    deep_link = command.deep_link if isinstance(command, CommandStart) else None

    def quick(event: Any, _language: Language) -> bool:
        text = getattr(event, "text", None) or getattr(event, "caption", None)
        if not text:
            return True  # aiogram decides (what is not a message is refused there)
        parts = text.split(maxsplit=1)
        if not parts or parts[0][0] not in prefixes:
            return False
        if names is not None:
            name = parts[0][1:].partition("@")[0]
            if (name.casefold() if fold else name) not in names:
                return False
        return deep_link is None or bool(deep_link) == (len(parts) > 1)

    return quick


def _leading(handler: HandlerObject, path: tuple[Router, ...]) -> _Entry:
    states: list[Any] = []
    quick: list[PureCheck] = []
    of_event = False  # whether a filter of the event (not of the user alone) is in ``quick`` yet
    texts: Callable[[Language], Any] | None = None
    prefixes: str | None = None
    for item in handler.filters or ():
        original = _original(item)
        if isinstance(original, State | StateFilter) and not quick:
            states.append(original)
        elif isinstance(original, MagicFilter):
            compiled, lets_through = _compile_magic(original)
            if not of_event:
                texts = lets_through
            quick.append((False, compiled))
            of_event = True
        elif isinstance(original, UserFilter):
            quick.append((True, original.allows))
        elif isinstance(original, Command):
            if not of_event:
                prefixes = original.prefix
            quick.append((False, _command_quick(original)))
            break  # the rest of a command's check is aiogram's (it may ask Telegram who the bot is)
        else:
            break
    return _Entry(handler, path, tuple(states), tuple(quick), texts, prefixes)


def _state_allows(check: Any, raw_state: str | None) -> bool:
    if isinstance(check, State):
        return check(None, raw_state=raw_state)  # type: ignore[arg-type]
    for allowed in check.states:  # StateFilter.__call__, without its coroutine
        if isinstance(allowed, str) or allowed is None:
            if allowed in {"*", raw_state}:
                return True
        elif isinstance(allowed, State):
            if allowed(None, raw_state=raw_state):  # type: ignore[arg-type]
                return True
        elif isinstance(allowed, type):
            if allowed()(event=None, raw_state=raw_state):
                return True
        elif allowed(event=None, raw_state=raw_state):
            return True
    return False


def _entries(router: Router, update_type: str, path: tuple[Router, ...]) -> Iterator[_Entry]:
    path = (*path, router)
    observer = router.observers[update_type]
    for handler in observer.handlers:
        yield _leading(handler, path)
    for sub in router.sub_routers:
        yield from _entries(sub, update_type, path)


def _compilable(routers: list[Router], update_type: str) -> bool:
    for router in routers:
        observer = router.observers[update_type]
        if len(observer.outer_middleware):
            return False
        if not all(isinstance(_original(f), _PURE_ROOT_FILTERS) for f in observer._handler.filters or ()):
            return False
        if not _compilable(router.sub_routers, update_type):
            return False
    return True


_Candidate = tuple[int, _Entry]  # an entry and its place in the state's list


@dataclass(slots=True, eq=False)
class _Plan:
    """One state's entries in one language, sorted by what lets them through: an
    entry whose first quick filter is ``F.text == label`` (or ``.in_(labels)``) is only
    a candidate for those texts, a command's only for text starting with its prefix.
    A stranger's words then skip the fifty-odd menu buttons and commands at once."""

    always: list[_Candidate]
    by_text: dict[str, list[_Candidate]]
    commands: list[_Candidate]
    prefixes: str
    merged: dict[tuple[str | None, bool], list[_Candidate]]

    @classmethod
    def of(cls, entries: list[_Entry], language: Language) -> _Plan:
        always: list[_Candidate] = []
        by_text: dict[str, list[_Candidate]] = {}
        commands: list[_Candidate] = []
        prefixes: set[str] = set()
        for index, entry in enumerate(entries):
            texts = entry.texts(language) if entry.texts is not None else None
            if isinstance(texts, tuple | list | set | frozenset) and all(type(t) is str for t in texts):
                for text in set(texts):
                    by_text.setdefault(text, []).append((index, entry))
            elif isinstance(entry.prefixes, str) and entry.prefixes:
                commands.append((index, entry))
                prefixes.update(entry.prefixes)
            else:
                always.append((index, entry))
        return cls(always, by_text, commands, "".join(sorted(prefixes)), {})

    def candidates(self, event: Any) -> list[_Candidate]:
        """The entries that may take ``event``, in their order."""
        text = getattr(event, "text", None)
        labelled = self.by_text.get(text) if type(text) is str else None
        command = bool(self.commands) and _may_be_command(event, self.prefixes)
        if labelled is None and not command:
            return self.always
        key = (text if labelled is not None else None, command)
        merged = self.merged.get(key)
        if merged is None:
            merged = self.merged[key] = sorted([*self.always, *(labelled or ()), *(self.commands if command else ())],
                                               key=operator.itemgetter(0))
        return merged


def _may_be_command(event: Any, prefixes: str) -> bool:
    """Whether a command with these prefixes may take ``event`` (a command filter's first
    question, and the plan's for all its commands at once, their prefixes together)."""
    text = getattr(event, "text", None) or getattr(event, "caption", None)
    if not text:
        return True  # aiogram decides
    first = text.lstrip()[:1]
    return bool(first) and first in prefixes


class CompiledRouting:
    """The walk below one dispatcher for one kind of event (see the module)."""

    def __init__(self, dispatcher: Dispatcher, update_type: str) -> None:
        self.update_type = update_type
        self.entries = [e for r in dispatcher.sub_routers for e in _entries(r, update_type, ())]
        for entry in self.entries:  # whose inner middlewares a handler is called through, outermost first
            entry.observers = (dispatcher.observers[update_type], *(r.observers[update_type] for r in entry.path))
        self._chains = ChainCache(MiddlewareManager.wrap_middlewares)
        self._by_state: dict[str | None, list[_Entry]] = {}
        self._plans: dict[tuple[str | None, Language], _Plan] = {}
        # A router's root filters asked directly, in their order, when each is an audience filter
        # or a magic filter (``F.chat.type == "private"``); None: aiogram's check_root_filters asks them.
        self._roots: dict[Router, tuple[PureCheck, ...] | None] = {}
        for entry in self.entries:
            for router in entry.path:
                if router not in self._roots:
                    originals = [_original(f) for f in router.observers[update_type]._handler.filters or ()]
                    self._roots[router] = (tuple(_root_check(f) for f in originals)
                                           if all(isinstance(f, _PURE_ROOT_FILTERS) for f in originals) else None)

    def for_state(self, raw_state: str | None) -> list[_Entry]:
        entries = self._by_state.get(raw_state)
        if entries is None:
            entries = [e for e in self.entries if all(_state_allows(s, raw_state) for s in e.states)]
            if len(self._by_state) < 1000:  # states are a fixed set; a bound all the same
                self._by_state[raw_state] = entries
        return entries

    def _plan(self, raw_state: str | None, language: Language) -> _Plan:
        key = (raw_state, language)
        plan = self._plans.get(key)
        if plan is None:
            plan = _Plan.of(self.for_state(raw_state), language)
            if len(self._plans) < 3000:  # states times languages: a fixed set; a bound all the same
                self._plans[key] = plan
        return plan

    async def propagate(self, event: TelegramObject, kwargs: dict[str, Any]) -> Any:
        """As the dispatcher's sub-routers would answer ``event`` (``kwargs``: what the
        dispatcher's ``_propagate_event`` passes them)."""
        levels: dict[Router, dict[str, Any] | None] = {}  # as a router's _propagate_event has them; None: its root filters said no
        triggers: dict[Router, dict[str, Any]] = {}  # as its observer's trigger has them
        closed: set[Router] = set()  # routers whose own handlers are done (a handler gave UNHANDLED)
        dropped: set[Router] = set()  # routers left with their sub-routers (a handler gave REJECTED)
        raw_state = kwargs.get("raw_state")
        user = kwargs.get("user")
        language = _language()
        candidates = self._plan(raw_state, language).candidates(event)
        position = 0
        while position < len(candidates):
            index, entry = candidates[position]
            position += 1
            passed = True
            for of_user, check in entry.quick:  # in their order: aiogram stops at the first no too
                if not (check(user) if of_user else check(event, language)):
                    passed = False
                    break
            if not passed:
                continue
            router = entry.path[-1]
            if router in closed or (dropped and any(r in dropped for r in entry.path)):
                continue
            trigger = triggers.get(router)
            if trigger is None:
                level = await self._level(entry.path, event, kwargs, levels, language)
                if level is None:
                    continue
                trigger = triggers[router] = dict(level)
            trigger["handler"] = entry.handler
            result, data = await entry.handler.check(event, **trigger)
            if not result:
                continue
            trigger.update(data)
            try:
                wrapped = inner_chain(self._chains, entry.observers, entry.handler.call)
                response = await wrapped(event, trigger)
            except SkipHandler:
                response = UNHANDLED
                skipped = True
            else:
                skipped = False
            # A handler may have set the locale before passing the event on: the handlers
            # after it are looked up in that language.
            now = _language()
            if now != language:
                language = now
                candidates = [c for c in self._plan(raw_state, language).candidates(event) if c[0] > index]
                position = 0
            if skipped:
                continue
            if response is REJECTED:
                dropped.add(router)
            elif response is UNHANDLED:
                closed.add(router)
            else:
                return response
        return UNHANDLED

    async def _level(self, path: tuple[Router, ...], event: TelegramObject, kwargs: dict[str, Any],
                     levels: dict[Router, dict[str, Any] | None], language: Language) -> dict[str, Any] | None:
        """The keyword arguments of the last router of ``path``, its routers' root filters checked
        on the way (None if one said no)."""
        parent: dict[str, Any] = kwargs
        for router in path:
            if router in levels:
                level = levels[router]
            else:
                level = {**parent, "event_router": router}
                checks = self._roots[router]
                if checks is not None:  # as check_root_filters would answer, without its calls
                    user = level.get("user")
                    for of_user, check in checks:
                        answer = check(user) if of_user else check(event, language)
                        if not answer:
                            level = None
                            break
                        if isinstance(answer, dict):  # as HandlerObject.check: a filter's data is passed on
                            level.update(answer)
                else:
                    result, data = await router.observers[self.update_type].check_root_filters(event, **level)
                    level = data if result else None
                levels[router] = level
            if level is None:
                return None
            parent = level
        return parent


def compile_routing(dispatcher: Dispatcher,
                    update_types: tuple[str, ...] = ("message", "edited_message", "callback_query")) -> None:
    """Route these kinds of events below ``dispatcher`` through :class:`CompiledRouting`
    (a kind whose routers do not allow it stays with aiogram's walk).  Call it once
    every router is included."""
    compiled = {t: CompiledRouting(dispatcher, t) for t in update_types if _compilable(dispatcher.sub_routers, t)}
    original = dispatcher._propagate_event

    async def propagate_event(observer: TelegramEventObserver | None, update_type: str, event: TelegramObject,
                              **kwargs: Any) -> Any:
        routing = compiled.get(update_type)
        if routing is None:
            return await original(observer=observer, update_type=update_type, event=event, **kwargs)
        # Router._propagate_event: the dispatcher's own root filters and handlers first (when it
        # has any: with none, aiogram's check says yes and its trigger finds nothing).
        if observer and (observer._handler.filters or observer.handlers):
            result, data = await observer.check_root_filters(event, **kwargs)
            if not result:
                return UNHANDLED
            kwargs.update(data)
            response = await observer.trigger(event, **kwargs)
            if response is REJECTED:
                return UNHANDLED
            if response is not UNHANDLED:
                return response
        return await routing.propagate(event, kwargs)

    dispatcher._propagate_event = propagate_event  # type: ignore[method-assign]

    # Router.propagate_event: the dispatcher's outer middlewares of the event (the language,
    # the rate limit, the refusals) wrapped around its _propagate_event.  aiogram makes a new
    # closure at their end for every event, so their chain could not be kept (bot/chains.py).
    chains = ChainCache(MiddlewareManager.wrap_middlewares)
    ends = {t: _propagation_end(dispatcher, t) for t in compiled}
    original_propagate = dispatcher.propagate_event

    async def propagate(update_type: str, event: TelegramObject, **kwargs: Any) -> Any:
        end = ends.get(update_type)
        if end is None:
            return await original_propagate(update_type=update_type, event=event, **kwargs)
        kwargs["event_router"] = dispatcher
        observer = dispatcher.observers[update_type]
        return await chains.get(tuple(observer.outer_middleware._middlewares), end)(event, kwargs)

    dispatcher.propagate_event = propagate  # type: ignore[method-assign]


def _propagation_end(dispatcher: Dispatcher, update_type: str) -> Callable[..., Any]:
    """What Router.propagate_event's closure does, made once for this kind of event."""
    observer = dispatcher.observers[update_type]

    async def propagate(telegram_event: TelegramObject, **data: Any) -> Any:
        return await dispatcher._propagate_event(observer=observer, update_type=update_type, event=telegram_event,
                                                 **data)

    return propagate
