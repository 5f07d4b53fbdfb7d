"""Residents. Registering: a few characters of the building's name or address, or a location
(or the lists: community → grid → building); then phone.

Also used from /profile to change one's building or phone.  Lists are
inline buttons, paginated; typing part of a name filters the current list.
"""

from __future__ import annotations

from aiogram import F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Settings
from bot.i18n import PoI18n
from bot.services import cases, privacy
from bot.services import users as user_service
from bot.services.errors import DomainError, InvalidInput
from handlers import labels
from handlers.callbacks import PageCb, PlaceCb, PrivacyCb, ProfileCb
from handlers.cases import ui as cases_ui
from handlers.cases.ui import CaseIntake
from handlers.keyboards import (
    cancel_button,
    language_keyboard,
    location_keyboard,
    main_menu,
    options_keyboard,
    phone_keyboard,
    with_nav,
)
from handlers.refusal import error_text
from handlers.render import esc
from handlers.replies import edit_in_place
from handlers.states import Registration
from models import CaseKind, Grid, User, utcnow

PROMPTS = {
    "c": lambda: _("Which community do you live in?"),
    "g": lambda: _("Which grid?"),
    "b": lambda: _("Which building?"),
}


def needs_home(user: User) -> bool:
    """A person with no role must register a home building to use the bot."""
    return user.building_id is None and not user.roles


def welcome() -> str:
    """Two lines for a first contact: what the bot does, and who answers."""
    return _("👋 Welcome! Here you can ask for help with errands, report a problem in your neighbourhood, "
             "or book a visit to the service station.\nYour grid worker answers you, with your community's staff.")


def privacy_notice(days: int) -> str:
    """The short privacy notice (docs/privacy.md says the same at length); ``days``: how long
    raw messages are kept (the retention setting)."""
    return ngettext(
        "🔒 <b>Your information and your rights</b>\n"
        "• We keep your name, language, home building, your phone if you share it, "
        "and what you send us about your requests and appointments.\n"
        "• Why: so that your grid worker and your community can help you and call you back.\n"
        "• Who sees it: the workers and staff who handle your request. Other residents never do.\n"
        "• How long: while you use this service. The raw messages you send are deleted after {days} day.\n"
        "• Your rights: in 👤 My profile you can correct it, get a copy of everything, or erase it.",
        "🔒 <b>Your information and your rights</b>\n"
        "• We keep your name, language, home building, your phone if you share it, "
        "and what you send us about your requests and appointments.\n"
        "• Why: so that your grid worker and your community can help you and call you back.\n"
        "• Who sees it: the workers and staff who handle your request. Other residents never do.\n"
        "• How long: while you use this service. The raw messages you send are deleted after {days} days.\n"
        "• Your rights: in 👤 My profile you can correct it, get a copy of everything, or erase it.",
        days).format(days=days)


def agree_keyboard(agree: CallbackData | None = None) -> InlineKeyboardMarkup:
    """The notice's one button; ``agree``: its data when agreeing goes on with something
    else than registering (a family link).  The plain one is made once per language: a
    stranger's every message is answered with it (issue 15), and nothing changes a markup
    once it is built."""
    text = _("✅ I agree")
    if agree is not None:
        return InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text=text, callback_data=agree.pack())]])
    markup = _AGREE.get(text)
    if markup is None:
        markup = _AGREE[text] = agree_keyboard(PrivacyCb(action="agree"))
    return markup


_AGREE: dict[str, InlineKeyboardMarkup] = {}  # by the button's text: one per language


async def remind_consent(message: Message) -> None:
    """More words from someone who has not agreed, the notice just above: a short line and
    the button, not the whole notice again (their words are kept, and offered back once they
    have agreed and registered: bot/services/privacy/earlier.py)."""
    await message.answer(_("📝 Got it, I have kept your words. Please read the notice above and tap "
                           "“✅ I agree”; then I can help you with this."), reply_markup=agree_keyboard())


async def ask_consent(message: Message, state: FSMContext, days: int, intro: str | None = None, *,
                      agree: CallbackData | None = None) -> None:
    """Show the privacy notice with its "I agree" button: nothing is stored before that.
    ``intro`` (the first contact's welcome) goes first, in the same message; ``agree``: the
    button's data when agreeing should go on with something else than registering (a family link)."""
    await state.clear()
    await message.answer((intro + "\n\n" if intro else "") + privacy_notice(days) + "\n\n"
                         + _("Tap “I agree” to continue."), reply_markup=agree_keyboard(agree))


async def ask_place(message: Message, state: FSMContext, session: AsyncSession, locale: str,
                    user: User | None = None, settings: Settings | None = None, intro: str | None = None) -> None:
    """Ask where the person lives; someone who has not agreed to the privacy
    notice (``user`` given) is shown the notice first.  ``intro`` opens the first message."""
    if user is not None and user_service.needs_privacy_consent(user):
        assert settings is not None, "the notice names RETENTION_DAYS"
        await ask_consent(message, state, settings.retention_days, intro)
        return
    await state.set_state(Registration.place)
    await state.update_data(level="s", parent=0)
    # No grid to choose first (issue 20: most residents cannot name theirs): a few characters of the
    # building's name or address, or the location; the lists stay one tap away.
    await message.answer(
        (intro + "\n\n" if intro else "") + _("Where do you live? Type a few characters of your building's name "
                                               "or address, or tap 📍 to share your location."),
        reply_markup=location_keyboard())
    await message.answer(_("Or choose it from a list:"), reply_markup=_search_keyboard([]))


async def found_by_words(message: Message, state: FSMContext, session: AsyncSession, locale: str,
                         user: User) -> bool:
    """Someone who agreed to the notice but has no home yet typed words at no question (after
    ❌ Cancel, say): when they name buildings, those are offered at once (the question "Where do
    you live?" is what she was answering).  False when nothing matches: ask as usual."""
    if user_service.needs_privacy_consent(user) or not message.text or message.text.startswith("/"):
        return False
    try:
        found = await user_service.search_buildings(session, message.text, locale)
    except InvalidInput:  # too long or empty: the usual question
        return False
    if not found:
        return False
    await state.set_state(Registration.place)
    await state.update_data(level="s", parent=0)
    await message.answer(_("Which one is your building?"), reply_markup=_search_keyboard(found))
    return True


def _search_keyboard(found: list[user_service.Option]) -> InlineKeyboardMarkup:
    """Buildings found by a search, then 📋 the lists and ❌ Cancel."""
    rows = [[InlineKeyboardButton(text=f"🏠 {o.name}", callback_data=PlaceCb(level="b", id=o.id).pack())]
            for o in found]
    rows.append([InlineKeyboardButton(text=_("📋 Choose from the list"),
                                      callback_data=PageCb(level="c", parent=0, page=0).pack())])
    rows.append([cancel_button()])
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def _options(session: AsyncSession, level: str, parent: int, locale: str) -> list[user_service.Option]:
    if level == "c":
        return await user_service.communities(session, locale)
    if level == "g":
        return await user_service.grids_of(session, parent, locale)
    return await user_service.buildings_of(session, parent, locale)


async def place_picked(
    query: CallbackQuery, callback_data: PlaceCb, session: AsyncSession, state: FSMContext, i18n: PoI18n
) -> None:
    level = "g" if callback_data.level == "c" else "b"
    options = await _options(session, level, callback_data.id, i18n.current_locale)
    await state.set_state(Registration.place)
    await state.update_data(level=level, parent=callback_data.id)
    await query.answer()
    await edit_in_place(query, PROMPTS[level](), options_keyboard(options, level=level, parent=callback_data.id))


async def page_turned(
    query: CallbackQuery, callback_data: PageCb, session: AsyncSession, state: FSMContext, i18n: PoI18n
) -> None:
    level, parent = callback_data.level, callback_data.parent
    if level == "s":  # back from the communities: the search by name or address
        await state.set_state(Registration.place)
        await state.update_data(level="s", parent=0)
        await query.answer()
        await edit_in_place(query, _("Or choose it from a list:"), _search_keyboard([]))
        return
    if level == "back":  # one level up from the list whose parent is `parent`
        data = await state.get_data()
        level, parent = await _level_up(session, data.get("level", "c"), parent)
    options = await _options(session, level, parent, i18n.current_locale)
    await state.set_state(Registration.place)
    await state.update_data(level=level, parent=parent)
    await query.answer()
    await edit_in_place(query, PROMPTS.get(level, PROMPTS["c"])(),
                options_keyboard(options, level=level, parent=parent, page=callback_data.page))


async def _level_up(session: AsyncSession, level: str, parent: int) -> tuple[str, int]:
    if level == "b":
        grid = await session.get(Grid, parent)
        return ("g", grid.community_id) if grid else ("c", 0)
    return "c", 0


async def building_picked(
    query: CallbackQuery, callback_data: PlaceCb, session: AsyncSession, user: User, state: FSMContext,
    i18n: PoI18n,
) -> None:
    home = await user_service.register_resident(session, user, callback_data.id, i18n.current_locale)
    await session.commit()
    await query.answer(_("Saved"))
    await edit_in_place(query, _("✅ Your home: {community} · {grid} · {building}").format(
        community=esc(home.community), grid=esc(home.grid), building=esc(home.building)), None)
    if isinstance(query.message, Message):
        await _after_home(query.message, user, state, session, i18n.current_locale)


async def _after_home(message: Message, user: User, state: FSMContext, session: AsyncSession,
                      locale: str) -> None:
    if user.phone is None:
        await state.set_state(Registration.phone)
        await message.answer(
            _("Optional: share your phone number so your grid worker can call you back. Or tap Skip."),
            reply_markup=phone_keyboard(),
        )
        return
    await _finish(message, user, state, session, locale)


async def _finish(message: Message, user: User, state: FSMContext, session: AsyncSession, locale: str) -> None:
    offer = bool((await state.get_data()).get(EARLIER))
    await state.clear()
    await message.answer(
        _("You are all set. Choose what you need from the menu below."),
        reply_markup=main_menu(user_service.staff_roles(user), resident=True),
    )
    if offer:
        await _offer_earlier_words(message, user, state, session, locale)


# Set in the conversation when the phone is asked from 👤 My profile: not a registration step,
# so its end is not "you are all set", and its way out is ❌ Cancel, not Skip.
FROM_PROFILE = "phone_from_profile"

# Set in the conversation when someone agrees to the privacy notice: at the end of their
# registration, what they wrote before agreeing is offered back (bot/services/privacy/earlier.py).
EARLIER = "earlier_words"


async def _offer_earlier_words(message: Message, user: User, state: FSMContext, session: AsyncSession,
                               locale: str) -> None:
    """Their words from before the notice, as an unsent request: ✅ Send or ❌ Cancel."""
    if message.bot is None:
        return
    words = await privacy.words_before_consent(session, user, message.bot.id, not_words=labels.menu_labels())
    if not words or await cases.pending_draft(session, user) is not None:
        return
    try:
        async with session.begin_nested():  # refused: only this is undone, the answers above stay
            draft = await cases.start_draft(session, user, kind=CaseKind.request, service_id=None, now=utcnow())
            for text in words:
                await cases.add_text(session, user, draft.id, text, locale)
    except DomainError:  # too long for a request, say: not offered, the menu is there
        return
    await session.commit()
    await state.set_state(CaseIntake.collect)
    await state.set_data({"draft": draft.id})
    quoted = "\n".join(f"«{esc(text[:300])}»" for text in words)
    await message.answer(
        _("Before you agreed you wrote:\n{words}\nShall I send it to your grid team as a request? "
          "Add photos, a voice message or your location if it helps, then tap ✅ Send. "
          "(❌ Cancel if not.)").format(words=quoted),
        reply_markup=cases_ui.intake_keyboard())


async def place_typed(message: Message, session: AsyncSession, state: FSMContext, i18n: PoI18n) -> None:
    data = await state.get_data()
    level, parent = data.get("level", "c"), int(data.get("parent", 0))
    if level != "s":
        options = await _options(session, level, parent, i18n.current_locale)
        matches = user_service.filter_options(options, message.text or "")
    if level == "s" or not matches:  # a building anywhere, by its name or address
        found = await user_service.search_buildings(session, message.text or "", i18n.current_locale)
        if found:
            await message.answer(_("Which one is your building?"), reply_markup=_search_keyboard(found))
        else:
            await message.answer(_("I found no building matching “{text}”. Type fewer characters, share your "
                                   "location, or choose from the list.").format(text=esc((message.text or "")[:40])),
                                 reply_markup=_search_keyboard([]))
        return
    if not matches:
        await message.answer(_("Nothing matches “{text}”. Tap one below or type fewer characters.").format(
            text=esc((message.text or "")[:40])), reply_markup=options_keyboard(options, level=level, parent=parent))
        return
    await message.answer(PROMPTS[level](), reply_markup=options_keyboard(matches, level=level, parent=parent))


async def location_shared(message: Message, session: AsyncSession, user: User, state: FSMContext,
                          i18n: PoI18n, settings: Settings) -> None:
    if not (needs_home(user) or await state.get_state() == Registration.place.state):
        await message.answer(_("Thank you. Tap ❓ Help to see what I can do."))
        return
    if user_service.needs_privacy_consent(user):
        await ask_consent(message, state, settings.retention_days)
        return
    assert message.location is not None
    nearby = await user_service.nearest_buildings(
        session, message.location.latitude, message.location.longitude, i18n.current_locale)
    await state.set_state(Registration.place)
    if not nearby:
        await message.answer(_("I found no building of ours near that place. Please choose from the list."))
        await state.update_data(level="c", parent=0)
        options = await user_service.communities(session, i18n.current_locale)
        await message.answer(PROMPTS["c"](), reply_markup=options_keyboard(options, level="c", parent=0))
        return
    rows = [[InlineKeyboardButton(
        text=f"🏠 {n.building.name} · {n.distance_m} m",
        callback_data=PlaceCb(level="b", id=n.building.id).pack())] for n in nearby]
    rows.append([InlineKeyboardButton(text=_("Choose from the list instead"),
                                      callback_data=PageCb(level="c", parent=0, page=0).pack())])
    rows.append([cancel_button()])
    await message.answer(_("These buildings are closest to you. Which is yours?"),
                         reply_markup=InlineKeyboardMarkup(inline_keyboard=rows))


async def phone_shared(message: Message, session: AsyncSession, user: User, state: FSMContext,
                       i18n: PoI18n) -> None:
    assert message.contact is not None
    try:
        user_service.set_phone(user, message.contact.phone_number, contact_user_id=message.contact.user_id)
    except DomainError as err:  # own answer: the phone button stays under the text
        await message.answer(error_text(err), reply_markup=phone_keyboard())
        return
    await session.commit()
    if (await state.get_data()).get(FROM_PROFILE):
        await state.clear()
        await message.answer(_("Thank you, your phone number is saved."), reply_markup=_menu(user))
        return
    await message.answer(_("Thank you, your phone number is saved."), reply_markup=ReplyKeyboardRemove())
    await _finish(message, user, state, session, i18n.current_locale)


async def phone_skipped(message: Message, session: AsyncSession, user: User, state: FSMContext,
                        i18n: PoI18n) -> None:
    await _finish(message, user, state, session, i18n.current_locale)


async def phone_cancelled(message: Message, user: User, state: FSMContext) -> None:
    """❌ Cancel of the phone asked from the profile: nothing changes, the step's keyboard goes."""
    await state.clear()
    await message.answer(_("Cancelled. Your phone number is unchanged."), reply_markup=_menu(user))


async def phone_other(message: Message, state: FSMContext) -> None:
    if (await state.get_data()).get(FROM_PROFILE):
        await message.answer(_("Please tap “Share my phone number”, or ❌ Cancel."),
                             reply_markup=phone_keyboard(cancel=True))
        return
    await message.answer(_("Please tap “Share my phone number”, or Skip."), reply_markup=phone_keyboard())


def _menu(user: User) -> ReplyKeyboardMarkup:
    return main_menu(user_service.staff_roles(user), resident=user.building_id is not None)


async def privacy_agreed(query: CallbackQuery, session: AsyncSession, user: User, state: FSMContext,
                         i18n: PoI18n) -> None:
    first_time = user.privacy_consent_at is None  # not a double click, nor the notice read again
    user_service.agree_to_privacy(user)
    await session.commit()
    await query.answer(_("Thank you"))
    if query.message is not None:
        await edit_in_place(query, _("✅ You agreed to the privacy notice. You can read it again in 👤 My profile."), None)
    if isinstance(query.message, Message):
        if needs_home(user):
            await ask_place(query.message, state, session, i18n.current_locale)
            if first_time:
                await state.update_data({EARLIER: True})
        else:
            if first_time:
                await state.update_data({EARLIER: True})
            await _finish(query.message, user, state, session, i18n.current_locale)


async def profile_action(
    query: CallbackQuery, callback_data: ProfileCb, state: FSMContext, session: AsyncSession, i18n: PoI18n
) -> None:
    await query.answer()
    if not isinstance(query.message, Message):
        return
    if callback_data.action == "home":
        await ask_place(query.message, state, session, i18n.current_locale)
    elif callback_data.action == "lang":
        await query.message.answer(_("Please choose your language."), reply_markup=with_nav(language_keyboard()))
    elif callback_data.action == "phone":
        await state.set_state(Registration.phone)
        await state.set_data({FROM_PROFILE: True})
        await query.message.answer(_("Tap the button to share your phone number."),
                                   reply_markup=phone_keyboard(cancel=True))


def create_router() -> Router:
    """This audience's routing table; a new router each call (one per dispatcher)."""
    router = Router(name="resident")
    router.callback_query.register(place_picked, PlaceCb.filter(F.level.in_({"c", "g"})))
    router.callback_query.register(page_turned, PageCb.filter())
    router.callback_query.register(building_picked, PlaceCb.filter(F.level == "b"))
    router.message.register(place_typed, Registration.place, F.text, ~F.text.startswith("/"))
    router.message.register(location_shared, F.location)
    router.message.register(phone_shared, Registration.phone, F.contact)
    router.message.register(phone_skipped, Registration.phone, F.text == labels.SKIP)
    router.message.register(phone_cancelled, Registration.phone, F.text == labels.CANCEL)
    router.message.register(phone_other, Registration.phone, ~F.text.startswith("/"))
    router.callback_query.register(profile_action, ProfileCb.filter())
    router.callback_query.register(privacy_agreed, PrivacyCb.filter(F.action == "agree"))
    return router
