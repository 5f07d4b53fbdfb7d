"""Staff broadcasts (/broadcast), and the recipients' side of them.

Compose (text, photo or document) → where (district, community, grid,
building) → who (residents, workers, both) → "I have read it" button or not →
preview with the exact number of recipients → send now or schedule → one
progress message edited in place, with pause / resume / cancel.

Recipients press "I have read it"; a user blocking or unblocking the bot
(``my_chat_member``) is recorded so the delivery engine stops or resumes.

Every button can be forged: the service checks the actor's scope on each one.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

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

from bot.config import Settings
from bot.delivery.reports import held_until, progress_keyboard, progress_text
from bot.i18n import PoI18n
from bot.services.broadcasts import notices as svc
from bot.services.errors import DomainError, InvalidInput, NotAllowed
from handlers import labels
from handlers.callbacks import BcAckCb, BcCtlCb, BcScopeCb, BcStepCb
from handlers.filters import HasRole
from handlers.refusal import error_text, refuse
from handlers.render import esc, local_time
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


# ------------------------------------------------------------------ compose

async def start(message: Message, session: AsyncSession, user: User, state: FSMContext) -> None:
    if not svc.may_broadcast(user):
        await message.answer(error_text(NotAllowed()))
        return
    await state.clear()
    await state.set_state(BroadcastForm.content)
    await message.answer(_("Send the notice: a text, or a photo or document with a caption.\n"
                           "Send /cancel to stop."))


async def content_received(message: Message, session: AsyncSession, user: User, state: FSMContext,
                           i18n: PoI18n) -> None:
    text = message.html_text if (message.text or message.caption) else ""
    photo = message.photo[-1].file_id if message.photo else None
    document = message.document.file_id if message.document else None
    if message.text is None and photo is None and document is None:
        await message.answer(_("Please send a text, a photo or a document."))
        return
    try:
        svc.validate_content(text, photo, document)
    except DomainError as err:
        await message.answer(error_text(err))
        return
    await state.update_data(text=text, photo=photo, document=document)
    await state.set_state(BroadcastForm.scope)
    roots = await svc.root_refs(session, user, i18n.current_locale)
    if len(roots) == 1:
        ref, _option = roots[0]
        node = await svc.scope_node(session, user, ref, i18n.current_locale)
        await message.answer(_("Who should receive it?"), reply_markup=node_keyboard(node))
        return
    rows = [[_btn(o.name, BcScopeCb(type=ref.type.value, id=ref.id))] for ref, o in roots]
    await message.answer(_("Who should receive it?"), reply_markup=_kb(rows))


def node_keyboard(node: svc.ScopeNode) -> InlineKeyboardMarkup:
    rows = [[_btn(_("✅ All of {name}").format(name=node.name),
                  BcScopeCb(type=node.ref.type.value, id=node.ref.id, pick=1))]]
    if node.child_type is not None:
        # Buildings have nothing inside: choosing one picks it.
        pick = 1 if node.child_type == BroadcastScope.building else 0
        for child in node.children[:MAX_CHILD_BUTTONS]:
            rows.append([_btn(child.name, BcScopeCb(type=node.child_type.value, id=child.id, pick=pick))])
    rows.append([_btn(_("⬅️ Start again"), BcStepCb(action="roots"))])
    return _kb(rows)


def _ref(cb: BcScopeCb) -> svc.ScopeRef:
    return svc.ScopeRef(BroadcastScope(cb.type), cb.id)


async def scope_pressed(query: CallbackQuery, callback_data: BcScopeCb, session: AsyncSession, user: User,
                        state: FSMContext, i18n: PoI18n) -> None:
    if await state.get_state() != BroadcastForm.scope.state:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    try:
        ref = _ref(callback_data)
        node = await svc.scope_node(session, user, ref, i18n.current_locale)
    except ValueError:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    except DomainError as err:
        await refuse(query, err)
        return
    await query.answer()
    if not isinstance(query.message, Message):
        return
    if not callback_data.pick:
        await query.message.edit_text(_("Who should receive it?"), reply_markup=node_keyboard(node))
        return
    await state.update_data(scope_type=ref.type.value, scope_id=ref.id, scope_name=node.name)
    await state.set_state(BroadcastForm.audience)
    rows = [[_btn(audience_label(a), BcStepCb(action="aud", value=a.value))] for a in BroadcastAudience]
    await query.message.edit_text(_("To {scope}: which people?").format(scope=esc(node.name)),
                                  reply_markup=_kb(rows))


async def restart_scope(query: CallbackQuery, session: AsyncSession, user: User, state: FSMContext,
                        i18n: PoI18n) -> None:
    if await state.get_state() not in (BroadcastForm.scope.state, BroadcastForm.audience.state):
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    await state.set_state(BroadcastForm.scope)
    roots = await svc.root_refs(session, user, i18n.current_locale)
    rows = [[_btn(o.name, BcScopeCb(type=ref.type.value, id=ref.id))] for ref, o in roots]
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(_("Who should receive it?"), reply_markup=_kb(rows))


async def audience_pressed(query: CallbackQuery, callback_data: BcStepCb, state: FSMContext) -> None:
    if await state.get_state() != BroadcastForm.audience.state:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    try:
        audience = BroadcastAudience(callback_data.value)
    except ValueError:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    await state.update_data(audience=audience.value)
    await state.set_state(BroadcastForm.ack)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_text(
            _("Is it important? Recipients then get an \"I have read it\" button, and after 24 hours grid "
              "workers get the list of residents who have not pressed it."),
            reply_markup=_kb([[_btn(_("Yes, ask them to confirm"), BcStepCb(action="ack", value="1"))],
                              [_btn(_("No"), BcStepCb(action="ack", value="0"))]]))


async def ack_pressed(query: CallbackQuery, callback_data: BcStepCb, session: AsyncSession, user: User,
                      state: FSMContext, i18n: PoI18n, bot: Bot, settings: Settings) -> None:
    if await state.get_state() != BroadcastForm.ack.state or callback_data.value not in ("0", "1"):
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    await state.update_data(ack=callback_data.value == "1")
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.delete_reply_markup()
        await show_preview(query.message, session, user, state, i18n, bot, settings)


async def show_preview(message: Message, session: AsyncSession, user: User, state: FSMContext, i18n: PoI18n,
                       bot: Bot, settings: Settings) -> None:
    data = await state.get_data()
    ref = svc.ScopeRef(BroadcastScope(data["scope_type"]), int(data["scope_id"]))
    audience = BroadcastAudience(data["audience"])
    try:
        preview = await svc.preview(session, user, ref, audience, i18n.current_locale)
    except DomainError as err:
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
    if data.get("scheduled_at"):
        when = datetime.fromisoformat(data["scheduled_at"])
        lines.append(_("Scheduled for {when}").format(when=local_time(when, settings.tz)))
    if preview.recipients == 0:
        await state.clear()
        lines.append(_("Nobody to send it to."))
        await message.answer("\n".join(lines))
        return
    await state.set_state(BroadcastForm.confirm)
    rows = [[_btn(_("📤 Send now"), BcStepCb(action="send"))],
            [_btn(_("🕒 Schedule"), BcStepCb(action="schedule"))],
            [_btn(_("✖️ Cancel"), BcStepCb(action="drop"))]]
    if data.get("scheduled_at"):
        rows[0] = [_btn(_("📤 Confirm the schedule"), BcStepCb(action="send"))]
    await message.answer("\n".join(lines), reply_markup=_kb(rows))


async def schedule_pressed(query: CallbackQuery, state: FSMContext, settings: Settings) -> None:
    if await state.get_state() != BroadcastForm.confirm.state:
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    await state.set_state(BroadcastForm.schedule)
    await query.answer()
    if isinstance(query.message, Message):
        await query.message.edit_reply_markup(reply_markup=None)
        tomorrow = (utcnow().astimezone(settings.tz) + timedelta(days=1)).strftime("%Y-%m-%d")
        await query.message.answer(
            _("When should it go out? Send a date and time like {example} (local time).").format(
                example=f"{tomorrow} 08:00"),
            reply_markup=_kb([[_btn(_("Tomorrow 08:00"), BcStepCb(action="when", value="tomorrow08"))]]))


_WHEN_RE = re.compile(r"^\s*(?:(\d{4})-)?(\d{1,2})-(\d{1,2})\s+(\d{1,2})[:：](\d{2})\s*$")


def parse_local_time(text: str, now: datetime, settings: Settings) -> datetime:
    """``2026-12-01 09:00`` or ``12-01 09:00`` (this year) in local time -> aware UTC."""
    match = _WHEN_RE.match(text or "")
    if not match:
        raise InvalidInput("schedule_format")
    year, month, day, hour, minute = match.groups()
    local_now = now.astimezone(settings.tz)
    try:
        moment = datetime(int(year or local_now.year), int(month), int(day), int(hour), int(minute),
                          tzinfo=settings.tz)
    except ValueError:
        raise InvalidInput("schedule_format") from None
    return moment.astimezone(now.tzinfo)


async def _set_schedule(message: Message, when: datetime, session: AsyncSession, user: User, state: FSMContext,
                        i18n: PoI18n, bot: Bot, settings: Settings) -> None:
    try:
        svc.validate_schedule(when, utcnow())
    except DomainError as err:
        await message.answer(error_text(err))
        return
    await state.update_data(scheduled_at=when.isoformat())
    await show_preview(message, session, user, state, i18n, bot, settings)


async def schedule_typed(message: Message, session: AsyncSession, user: User, state: FSMContext, i18n: PoI18n,
                         bot: Bot, settings: Settings) -> None:
    try:
        when = parse_local_time(message.text or "", utcnow(), settings)
    except DomainError as err:
        await message.answer(error_text(err))
        return
    await _set_schedule(message, when, session, user, state, i18n, bot, settings)


async def schedule_quick(query: CallbackQuery, callback_data: BcStepCb, session: AsyncSession, user: User,
                         state: FSMContext, i18n: PoI18n, bot: Bot, settings: Settings) -> None:
    if await state.get_state() != BroadcastForm.schedule.state or callback_data.value != "tomorrow08":
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    await query.answer()
    local = utcnow().astimezone(settings.tz) + timedelta(days=1)
    when = local.replace(hour=8, minute=0, second=0, microsecond=0).astimezone(utcnow().tzinfo)
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
    if await state.get_state() != BroadcastForm.confirm.state:
        # A second tap of the same button, or a forged one.
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    data = await state.get_data()
    now = utcnow()

    def label(locale: str) -> str:
        with i18n.use_locale(locale):
            return ack_button_label()

    try:
        broadcast = await svc.create_broadcast(
            session, user,
            ref=svc.ScopeRef(BroadcastScope(data["scope_type"]), int(data["scope_id"])),
            audience=BroadcastAudience(data["audience"]),
            text=data.get("text") or "", photo=data.get("photo"), document=data.get("document"),
            ack_requested=bool(data.get("ack")),
            scheduled_at=datetime.fromisoformat(data["scheduled_at"]) if data.get("scheduled_at") else None,
            now=now, locale=i18n.current_locale, default_locale=settings.default_locale,
            ack_label=label, ack_callback=lambda bid: BcAckCb(id=bid).pack(),
        )
    except (KeyError, ValueError):
        await state.clear()
        await query.answer(_("This button is no longer valid."), show_alert=True)
        return
    except DomainError as err:
        await refuse(query, err)
        return
    await state.clear()
    await session.commit()
    await query.answer(_("Queued."))
    if not isinstance(query.message, Message):
        return
    await query.message.edit_reply_markup(reply_markup=None)
    progress = await svc.progress(session, broadcast.id, now, fallback_rate=settings.delivery_global_rate,
                                  not_before=held_until(broadcast.scheduled_at, now, settings))
    text = progress_text(progress, now, settings)
    sent = await query.message.answer(text, reply_markup=progress_keyboard(progress))
    await svc.set_progress_message(session, broadcast.id, sent.chat.id, sent.message_id, text)
    await session.commit()


# ------------------------------------------------------------------ control

async def control_pressed(query: CallbackQuery, callback_data: BcCtlCb, session: AsyncSession, user: User,
                          settings: Settings) -> None:
    now = utcnow()
    try:
        if callback_data.action == "pause":
            await svc.pause(session, user, callback_data.id)
            note = _("Paused. Nothing more is sent until you resume.")
        elif callback_data.action == "resume":
            await svc.resume(session, user, callback_data.id)
            note = _("Resumed.")
        elif callback_data.action == "cancel":
            await svc.cancel(session, user, callback_data.id, now)
            note = _("Cancelled. Messages already sent stay sent.")
        elif callback_data.action == "refresh":
            note = None
        else:
            await query.answer(_("This button is no longer valid."), show_alert=True)
            return
        await session.commit()
        progress = await svc.progress(session, callback_data.id, now, actor=user,
                                      fallback_rate=settings.delivery_global_rate)
        if progress.status == BroadcastStatus.active:
            progress = await svc.progress(session, callback_data.id, now, fallback_rate=settings.delivery_global_rate,
                                          not_before=held_until(progress.scheduled_at, now, settings))
    except DomainError as err:
        await refuse(query, err)
        return
    await query.answer(note or None)
    text = progress_text(progress, now, settings)
    if isinstance(query.message, Message) and text != (query.message.text or ""):
        await query.message.edit_text(text, reply_markup=progress_keyboard(progress))


# --------------------------------------------------------------- recipients

async def ack_received(query: CallbackQuery, callback_data: BcAckCb, session: AsyncSession, user: User) -> None:
    try:
        new = await svc.acknowledge(session, user, callback_data.id, utcnow())
    except DomainError:
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
    router.callback_query.register(restart_scope, BcStepCb.filter(F.action == "roots"))
    router.callback_query.register(audience_pressed, BcStepCb.filter(F.action == "aud"))
    router.callback_query.register(ack_pressed, BcStepCb.filter(F.action == "ack"))
    router.callback_query.register(schedule_pressed, BcStepCb.filter(F.action == "schedule"))
    router.callback_query.register(schedule_quick, BcStepCb.filter(F.action == "when"))
    router.callback_query.register(drop_pressed, BcStepCb.filter(F.action == "drop"))
    router.callback_query.register(send_pressed, BcStepCb.filter(F.action == "send"))
    router.callback_query.register(control_pressed, BcCtlCb.filter())
    router.callback_query.register(ack_received, BcAckCb.filter())
    router.my_chat_member.register(membership_changed)
    return router
