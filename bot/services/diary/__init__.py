"""The patrol diary (民情日志): its public face (docs/diary.md).

Handlers and other features use the diary through this module only
(``from bot.services import diary`` then ``diary.start_patrol(...)``); the
modules behind it import each other directly::

    entries      patrols and the entries logged on them (the writing side)
    views        what a worker, a grid head or community staff may read
    households   the household ledger: tags, visit frequencies, who is due
    figures      a worker's (or a grid's) numbers for any period
    cases        "problem found" -> a case of the case loop, linked both ways
    jobs         the nudge, the morning due-visit list, the weekly summary
                 (registered by :func:`bot.jobs.load_jobs`)
    texts        the diary's words, for the handlers and the notifications
    common       the household visit clock, who may read an entry, stale patrols
"""

from __future__ import annotations

from bot.services.diary import texts
from bot.services.diary.cases import entry_for_case, open_case
from bot.services.diary.common import (
    COMPOSE_MINUTES,
    MediaRef,
    diary_cb,
    field_workers_of,
    refresh_household,
)
from bot.services.diary.entries import (
    PatrolSummary,
    add_note,
    add_to_entry,
    delete_entry,
    edit_entry,
    end_patrol,
    entry_by_message,
    open_patrol,
    own_entry,
    own_opinion,
    patrol_grids,
    record_location,
    start_patrol,
    tag_or_create,
)
from bot.services.diary.figures import (
    DiaryFigures,
    GridFigures,
    grid_figures,
    grid_month,
    overdue_households,
    period_figures,
    total_figures,
    worker_month,
)
from bot.services.diary.households import (
    BuildingLine,
    HouseholdCard,
    HouseholdLine,
    ResidentOption,
    add_household,
    building_households,
    building_info,
    cycle_tag,
    due_households,
    grid_buildings,
    household_card,
    link_resident,
    linkable_residents,
    managed_building,
    own_household_tags,
    record_consent,
    visit_building,
    visit_buildings,
)
from bot.services.diary.views import (
    DayView,
    EntryView,
    RevisionView,
    Rights,
    Scopes,
    attachments,
    community_day,
    day,
    entry,
    grid_day,
    history,
    scopes,
)

__all__ = [
    "texts",
    "entry_for_case", "open_case",
    "COMPOSE_MINUTES", "MediaRef", "diary_cb", "field_workers_of", "refresh_household",
    "PatrolSummary", "add_note", "add_to_entry", "delete_entry", "edit_entry", "end_patrol", "entry_by_message",
    "open_patrol", "own_entry", "own_opinion", "patrol_grids", "record_location", "start_patrol", "tag_or_create",
    "DiaryFigures", "GridFigures", "grid_figures", "grid_month", "overdue_households", "period_figures",
    "total_figures", "worker_month",
    "BuildingLine", "HouseholdCard", "HouseholdLine", "add_household", "building_households", "building_info",
    "cycle_tag", "due_households", "grid_buildings", "household_card", "managed_building", "visit_building",
    "visit_buildings", "record_consent", "ResidentOption", "link_resident", "linkable_residents",
    "own_household_tags",
    "DayView", "EntryView", "RevisionView", "Rights", "Scopes", "attachments", "community_day", "day", "entry",
    "grid_day", "history", "scopes",
]
