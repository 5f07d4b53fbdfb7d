"""The organisation's figures (docs/metrics.md, "The district's own organisation"):

* **building-head coverage**: active buildings of the scope's grids that have a
  building head now, of all its active buildings (a unit head alone does not
  cover a building);
* **errands offered / taken by volunteers**: proxy errands of the scope's
  grids offered to volunteers in the period, and of them those a volunteer took.

For the whole scope (:func:`org_figures`) or per grid or community
(:func:`org_figures_by`): one definition, grouped or not.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Building, Case, ErrandOffer, Grid, Role, RoleGrant, ScopeType

_KEYS = {"grid": Grid.id, "community": Grid.community_id}


@dataclass(frozen=True, slots=True)
class OrgFigures:
    buildings: int = 0
    buildings_with_head: int = 0
    errands_offered: int = 0
    errands_taken: int = 0

    @property
    def coverage(self) -> float | None:
        return self.buildings_with_head / self.buildings if self.buildings else None


async def org_figures(session: AsyncSession, grid_ids: Any, since: datetime, until: datetime) -> OrgFigures:
    """``grid_ids``: a subquery of the scope's grids; errands of the period [since, until)."""
    return (await _figures(session, grid_ids, since, until, None)).get(None, OrgFigures())


async def org_figures_by(session: AsyncSession, grid_ids: Any, since: datetime, until: datetime,
                         by: str) -> dict[int, OrgFigures]:
    """The same figures per ``by`` = "grid" or "community" (only those with a building or an errand)."""
    return {k: v for k, v in (await _figures(session, grid_ids, since, until, _KEYS[by])).items() if k is not None}


async def _figures(session: AsyncSession, grid_ids: Any, since: datetime, until: datetime,
                   key: Any) -> dict[int | None, OrgFigures]:
    keyed = [key] if key is not None else []
    headed = exists().where(RoleGrant.role == Role.building_head, RoleGrant.scope_type == ScopeType.building,
                            RoleGrant.scope_id == Building.id)
    buildings = (select(*keyed, func.count(), func.coalesce(func.sum(case((headed, 1), else_=0)), 0))
                 .select_from(Building).join(Grid, Grid.id == Building.grid_id)
                 .where(Building.grid_id.in_(grid_ids), Building.active))
    errands = (select(*keyed, func.count(), func.count(ErrandOffer.taken_by_id)).select_from(ErrandOffer)
               .join(Case, Case.id == ErrandOffer.case_id).join(Grid, Grid.id == Case.grid_id)
               .where(Case.grid_id.in_(grid_ids), ErrandOffer.offered_at >= since, ErrandOffer.offered_at < until))
    if key is not None:
        buildings, errands = buildings.group_by(key), errands.group_by(key)
    out: dict[int | None, OrgFigures] = {}
    for row in (await session.execute(buildings)).all():
        out[row[0] if keyed else None] = OrgFigures(int(row[-2]), int(row[-1] or 0))
    for row in (await session.execute(errands)).all():
        k = row[0] if keyed else None
        out[k] = replace(out.get(k, OrgFigures()), errands_offered=int(row[-2]), errands_taken=int(row[-1]))
    return out
