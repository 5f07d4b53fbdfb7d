"""FSM states. Every conversation can be left with /cancel."""

from aiogram.fsm.state import State, StatesGroup


class Registration(StatesGroup):
    language = State()
    place = State()  # choosing community → grid → building (data: level, parent)
    phone = State()
