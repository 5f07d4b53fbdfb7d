"""Staff broadcasts (/broadcast), and the recipients' side of them.

Compose (text, photo or document) → where (district, community, grid,
building) → who (residents, workers, both) → "I have read it" button or not →
preview with the exact number of recipients → send now or schedule → one
progress message edited in place, with pause / resume / cancel
(:mod:`bot.delivery.progress`).

Recipients press "I have read it"; a user blocking or unblocking the bot
(``my_chat_member``) is recorded so the delivery engine stops or resumes.

Every button can be forged: the service checks the actor's scope on each one.
A refusal (not allowed, a stale step, a bad time...) is answered by the one
refusal path (:mod:`handlers.refusal`); the conversation stays at its step.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    ChatMemberUpdated,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
)
from aiogram.utils.i18n import gettext as _
from sqlalchemy.ext.asyncio import AsyncSession

from bot.answers import send_now
from bot.config import Settings
from bot.delivery.progress import BcCtlCb, held_until, progress_keyboard, progress_text
from bot.i18n import PoI18n
from bot.services import broadcasts
from bot.services.errors import Conflict, DomainError
from bot.services.escape import esc
from handlers import labels
from handlers.callbacks import BcAckCb, BcScopeCb, BcStepCb
from handlers.filters import HasRole
from handlers.keyboards import cancel_button, cancel_only
from handlers.refusal import error_text
from handlers.render import local_time
from handlers.routing import on_press
from models import BroadcastAudience, BroadcastScope, BroadcastStatus, Role, User, utcnow

MAX_CHILD_BUTTONS = 60


class BroadcastForm(StatesGroup):
    content = State()
    scope = State()
    audience = State()
    ack = State()
    confirm = State()
    schedule = State()


def audience_label(audience: BroadcastAudience) -> str:
    return {
        BroadcastAudience.residents: _("🏠 Residents"),
        BroadcastAudience.workers: _("🧑‍💼 Grid workers"),
        BroadcastAudience.both: _("👥 Residents and grid workers"),
    }[audience]


def ack_button_label() -> str:
    return _("✅ I have read it")


def _kb(rows: list[list[InlineKeyboardButton]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(inline_keyboard=rows)


def _btn(text: str, data: object) -> InlineKeyboardButton:
    return InlineKeyboardButton(text=text, callback_data=data if isinstance(data, str) else data.pack())  # type: ignore[attr-defined]


def _stale() -> Conflict:
    """A button of a step the conversation is not at (a second tap, an old message, a forged one)."""
    return Conflict("stale_button")


async def _expect(state: FSMContext, step: State, valid: bool = True) -> None:
    """Refuse the press unless the conversation is at ``step`` (and its data is ``valid``)."""
    if not valid or await state.get_state() != step.state:
        raise _stale()


def _stored_ref(data: dict[str, Any]) -> broadcasts.ScopeRef:
    return broadcasts.ScopeRef(BroadcastScope(data["scope_type"]), int(data["scope_id"]))


def _stored_time(data: dict[str, Any]) -> datetime | None:
    return datetime.fromisoformat(data["scheduled_at"]) if data.get("scheduled_at") else None


# ------------------------------------------------------------------ compose

async def start(message: Message, user: User, state: FSMContext) -> None:
    broadcasts.require_broadcaster(user)
    await state.clear()
    await state.set_state(BroadcastForm.content)
    await message.answer(_("Send the notice: a text, or a photo or document with a caption."),
                         reply_markup=cancel_only())


async def content_received(message: Message, session: AsyncSession, user: User, state: FSMContext,
                           i18n: PoI18n) -> None:
    text = message.html_text if (message.text or message.caption) else ""
    photo = message.photo[-1].file_id if message.photo else None
    document = message.document.file_id if message.document else None
    if message.text is None and photo is None and document is None:
        await message.answer(_("Please send a text, a photo or a document."))
        return
    broadcasts.validate_content(text, photo, document)
    await state.update_data(text=text, photo=photo, document=document)
    await state.set_state(BroadcastForm.scope)
    roots = await broadcasts.root_refs(session, user, i18n.current_locale)
    if len(roots) == 1:
        ref, _option = roots[0]
        node = await broadcasts.scope_node(session, user, ref, i18n.current_locale)
        await message.answer(_("Who should receive it?"), reply_markup=node_keyboard(node))
        return
    await message.answer(_("Who should receive it?"), reply_markup=roots_keyboard(roots))


def roots_keyboard(roots: list[tuple[broadcasts.ScopeRef, Any]]) -> InlineKeyboardMarkup:
    return _kb([*([_btn(o.name, BcScopeCb(type=ref.type.value, id=ref.id))] for ref, o in roots),
                [cancel_button()]])


def node_keyboard(node: broadcasts.ScopeNode) -> InlineKeyboardMarkup:
    rows = [[_btn(_("✅ All of {name}").format(name=node.name),
                  BcScopeCb(type=node.ref.type.value, id=node.ref.id, pick=1))]]
    if node.child_type is not None:
        # Buildings have nothing inside: choosing one picks it.
        pick = 1 if node.child_type == BroadcastScope.building else 0
        for child in node.children[:MAX_CHILD_BUTTONS]:
            rows.append([_btn(child.name, BcScopeCb(type=node.child_type.value, id=child.id, pick=pick))])
    rows.append([_btn(_("⬅️ Start again"), BcStepCb(action="roots")), cancel_button()])
    return _kb(rows)


async def scope_pressed(query: CallbackQuery, callback_data: BcScopeCb, session: AsyncSession, user: User,
                        state: FSMContext, i18n: PoI18n) -> None:
    await _expect(state, BroadcastForm.scope, callback_data.type in set(BroadcastScope))
    ref = broadcasts.ScopeRef(BroadcastScope(callback_data.type), callback_data.id)
    node = await broadcasts.scope_node(session, user, ref, i18n.current_locale)
    await query.answer()
    if not isinstance(query.message, Message):
        return
    if not callback_data.pick:
        await query.message.edit_text(_("Who should receive it?"), reply_markup=node_keyboard(node))
        return
    await state.update_data(scope_type=ref.type.value, scope_id=ref.id, scope_name=node.name)
    await state.set_state(BroadcastForm.audience)
    rows = [[_btn(audience_label(a), BcStepCb(action="aud", value=a.value))] for a in BroadcastAudience]
    rows.append([_btn(_("⬅️ Start again"), BcStepCb(action="roots")), cancel_button()])
    await query.message.edit_text(_("To {scope}: which people?").format(scope=esc(node.name)),
                                  reply_markup=_kb(rows))


async def restart_scope(query: CallbackQuery, session: AsyncSession, user: User, state: FSMContext,
                        i18n: PoI18n) -> None:
    if await state.get_state() not in (BroadcastForm.scope.state, BroadcastForm.audience.state):
        raise _stale()
    await state.set_state(BroadcastForm.scope)
    roots = await broadcasts.root_refs(session, user, i18n.current_locale)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(_("Who should receive it?"), reply_markup=roots_keyboard(roots))


async def audience_pressed(query: CallbackQuery, callback_data: BcStepCb, state: FSMContext) -> None:
    await _expect(state, BroadcastForm.audience, callback_data.value in set(BroadcastAudience))
    await state.update_data(audience=callback_data.value)
    await state.set_state(BroadcastForm.ack)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(
            _("Is it important? Recipients then get an \"I have read it\" button, and after 24 hours grid "
              "workers and building heads get the list of residents who have not pressed it."),
            reply_markup=_kb([[_btn(_("Yes, ask them to confirm"), BcStepCb(action="ack", value="1"))],
                              [_btn(_("No"), BcStepCb(action="ack", value="0"))], [cancel_button()]]))


async def ack_pressed(query: CallbackQuery, callback_data: BcStepCb, session: AsyncSession, user: User,
                      state: FSMContext, i18n: PoI18n, bot: Bot, settings: Settings) -> None:
    await _expect(state, BroadcastForm.ack, callback_data.value in ("0", "1"))
    await state.update_data(ack=callback_data.value == "1")
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.delete_reply_markup()
        await show_preview(query.message, session, user, state, i18n, bot, settings)


async def show_preview(message: Message, session: AsyncSession, user: User, state: FSMContext, i18n: PoI18n,
                       bot: Bot, settings: Settings) -> None:
    data = await state.get_data()
    audience = BroadcastAudience(data["audience"])
    try:
        preview = await broadcasts.preview(session, user, _stored_ref(data), audience, i18n.current_locale)
    except DomainError as err:
        # Its own answer: the composition is dropped for good (a refusal would roll the clearing
        # back), and the press that led here has been answered already.
        await state.clear()
        await message.answer(error_text(err))
        return
    # The notice exactly as recipients will see it (the button does nothing here).
    markup = _kb([[_btn(ack_button_label(), "noop")]]) if data.get("ack") else None
    chat_id = message.chat.id
    if data.get("photo"):
        await bot.send_photo(chat_id, data["photo"], caption=data["text"] or None, reply_markup=markup)
    elif data.get("document"):
        await bot.send_document(chat_id, data["document"], caption=data["text"] or None, reply_markup=markup)
    else:
        await bot.send_message(chat_id, data["text"], reply_markup=markup)
    lines = [
        _("Preview above."),
        _("To: {scope} · {audience}").format(scope=esc(preview.scope_name), audience=audience_label(audience)),
        _("Recipients: {n}").format(n=preview.recipients),
    ]
    if preview.unreachable:
        lines.append(_("Not reachable on Telegram: {n} (they need a visit or a call)").format(n=preview.unreachable))
    scheduled_at = _stored_time(data)
    if scheduled_at is not None:
        lines.append(_("Scheduled for {when}").format(when=local_time(scheduled_at, settings.tz)))
    if preview.recipients == 0:
        await state.clear()
        lines.append(_("Nobody to send it to."))
        await message.answer("\n".join(lines))
        return
    await state.set_state(BroadcastForm.confirm)
    send = _("📤 Confirm the schedule") if scheduled_at is not None else _("📤 Send now")
    rows = [[_btn(send, BcStepCb(action="send"))],
            [_btn(_("🕒 Schedule"), BcStepCb(action="schedule"))],
            [_btn(_("❌ Cancel"), BcStepCb(action="drop"))]]
    await message.answer("\n".join(lines), reply_markup=_kb(rows))


async def schedule_pressed(query: CallbackQuery, state: FSMContext, settings: Settings) -> None:
    await _expect(state, BroadcastForm.confirm)
    await state.set_state(BroadcastForm.schedule)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        tomorrow = (utcnow().astimezone(settings.tz) + timedelta(days=1)).strftime("%Y-%m-%d")
        await query.message.answer(
            _("When should it go out? Send a date and time like {example} (local time).").format(
                example=f"{tomorrow} 08:00"),
            reply_markup=_kb([[_btn(_("Tomorrow 08:00"), BcStepCb(action="when", value="tomorrow08"))],
                              [cancel_button()]]))


async def _set_schedule(message: Message, when: datetime, session: AsyncSession, user: User, state: FSMContext,
                        i18n: PoI18n, bot: Bot, settings: Settings) -> None:
    """A checked sending time: stored, and the preview again with it."""
    await state.update_data(scheduled_at=when.isoformat())
    await show_preview(message, session, user, state, i18n, bot, settings)


async def schedule_typed(message: Message, session: AsyncSession, user: User, state: FSMContext, i18n: PoI18n,
                         bot: Bot, settings: Settings) -> None:
    now = utcnow()
    when = broadcasts.parse_schedule(message.text or "", now, settings.tz)
    broadcasts.validate_schedule(when, now)
    await _set_schedule(message, when, session, user, state, i18n, bot, settings)


async def schedule_quick(query: CallbackQuery, callback_data: BcStepCb, session: AsyncSession, user: User,
                         state: FSMContext, i18n: PoI18n, bot: Bot, settings: Settings) -> None:
    await _expect(state, BroadcastForm.schedule, callback_data.value == "tomorrow08")
    now = utcnow()
    local = now.astimezone(settings.tz) + timedelta(days=1)
    when = local.replace(hour=8, minute=0, second=0, microsecond=0).astimezone(now.tzinfo)
    broadcasts.validate_schedule(when, now)  # before the press is answered: a refusal is its alert
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        await _set_schedule(query.message, when, session, user, state, i18n, bot, settings)


async def drop_pressed(query: CallbackQuery, state: FSMContext) -> None:
    await state.clear()
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(_("Cancelled. Nothing was sent."))


async def send_pressed(query: CallbackQuery, session: AsyncSession, user: User, state: FSMContext,
                       i18n: PoI18n, settings: Settings) -> None:
    await _expect(state, BroadcastForm.confirm)  # not twice: a second tap of the same button is stale
    data = await state.get_data()
    try:
        ref, audience, scheduled_at = _stored_ref(data), BroadcastAudience(data["audience"]), _stored_time(data)
    except (KeyError, ValueError):
        # Its own answer: the broken composition is dropped for good (a refusal would roll that back).
        await state.clear()
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    now = utcnow()

    def label(locale: str) -> str:
        with i18n.use_locale(locale):
            return ack_button_label()

    broadcast = await broadcasts.create_broadcast(
        session, user, ref=ref, audience=audience,
        text=data.get("text") or "", photo=data.get("photo"), document=data.get("document"),
        ack_requested=bool(data.get("ack")), scheduled_at=scheduled_at,
        now=now, locale=i18n.current_locale, default_locale=settings.default_locale,
        ack_label=label, ack_callback=lambda bid: BcAckCb(id=bid).pack(),
    )
    await state.clear()
    await session.commit()
    await query.answer(_("Queued."))
    if not isinstance(query.message, Message):
        return
    await query.message.edit_reply_markup(reply_markup=None)
    progress = await _shown_progress(session, settings, broadcast.id, now)
    text = progress_text(progress, now, settings)
    # Its message_id is kept for the live progress: sent now, not deferred (bot/answers.py).
    sent = await send_now(query.message.answer(text, reply_markup=progress_keyboard(progress)))
    await broadcasts.set_progress_message(session, broadcast.id, sent.chat.id, sent.message_id, text)
    await session.commit()


# ------------------------------------------------------------------ control

async def _shown_progress(session: AsyncSession, settings: Settings, broadcast_id: int, now: datetime,
                          actor: User | None = None) -> broadcasts.Progress:
    """The progress as its message shows it: the estimate of a running broadcast starts
    when quiet hours let it go out.  With ``actor``, their right to see it is checked."""
    progress = await broadcasts.progress(session, broadcast_id, now, actor=actor,
                                         fallback_rate=settings.delivery_global_rate)
    if progress.status == BroadcastStatus.active and (hold := held_until(progress.scheduled_at, now, settings)):
        progress = await broadcasts.progress(session, broadcast_id, now, fallback_rate=settings.delivery_global_rate,
                                             not_before=hold)
    return progress


async def control_pressed(query: CallbackQuery, callback_data: BcCtlCb, session: AsyncSession, user: User,
                          settings: Settings) -> None:
    now = utcnow()
    if callback_data.action == "pause":
        await broadcasts.pause(session, user, callback_data.id)
        note = _("Paused. Nothing more is sent until you resume.")
    elif callback_data.action == "resume":
        await broadcasts.resume(session, user, callback_data.id)
        note = _("Resumed.")
    elif callback_data.action == "cancel":
        await broadcasts.cancel(session, user, callback_data.id, now)
        note = _("Cancelled. Messages already sent stay sent.")
    elif callback_data.action == "refresh":
        note = None
    else:
        raise _stale()
    await session.commit()
    progress = await _shown_progress(session, settings, callback_data.id, now, actor=user)
    await query.answer(note or None)
    text = progress_text(progress, now, settings)
    if isinstance(query.message, Message) and text != (query.message.text or ""):
        await query.message.edit_text(text, reply_markup=progress_keyboard(progress))


# --------------------------------------------------------------- recipients

async def ack_received(query: CallbackQuery, callback_data: BcAckCb, session: AsyncSession, user: User) -> None:
    try:
        new = await broadcasts.acknowledge(session, user, callback_data.id, utcnow())
    except DomainError:
        # Its own answer: to a recipient, a press that cannot count is a stale button, not "not allowed".
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    await session.commit()
    await query.answer(_("Thank you. Noted that you have read it.") if new else _("Already noted. Thank you."))
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=_kb([[_btn(_("✅ Read"), "noop")]]))


async def membership_changed(event: ChatMemberUpdated, session: AsyncSession, user: User) -> None:
    """The user blocked (kicked) or unblocked the bot in their private chat."""
    if event.chat.type != "private":
        return
    user.unreachable = event.new_chat_member.status == "kicked"


def create_router() -> Router:
    """This module's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="broadcast")
    staff_like = HasRole(Role.staff, Role.admin, Role.grid_head)
    router.message.register(start, Command("broadcast"), staff_like)
    router.message.register(start, F.text == labels.BROADCAST, staff_like)
    router.message.register(content_received, BroadcastForm.content, ~F.text.startswith("/"))
    router.message.register(schedule_typed, BroadcastForm.schedule, F.text, ~F.text.startswith("/"))
    # Callback queries are not filtered by role: a forged button reaches the service, which refuses it.
    router.callback_query.register(scope_pressed, BcScopeCb.filter())
    on_press(router, BcStepCb, {"roots": restart_scope, "aud": audience_pressed, "ack": ack_pressed,
                                "schedule": schedule_pressed, "when": schedule_quick, "drop": drop_pressed,
                                "send": send_pressed})
    router.callback_query.register(control_pressed, BcCtlCb.filter())
    router.callback_query.register(ack_received, BcAckCb.filter())
    router.my_chat_member.register(membership_changed)
    return router
