"""The organisation's figures (docs/metrics.md, "The district's own organisation"):

* **building-head coverage**: active buildings of the scope's grids that have a
  building head now, of all its active buildings (a unit head alone does not
  cover a building);
* **errands offered / taken by volunteers**: proxy errands of the scope's
  grids offered to volunteers in the period, and of them those a volunteer took.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from models import Building, Case, ErrandOffer, Role, RoleGrant, ScopeType


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
    buildings = select(Building.id).where(Building.grid_id.in_(grid_ids), Building.active)
    total = int(await session.scalar(select(func.count()).select_from(buildings.subquery())) or 0)
    headed = int(await session.scalar(select(func.count(func.distinct(RoleGrant.scope_id))).where(
        RoleGrant.role == Role.building_head, RoleGrant.scope_type == ScopeType.building,
        RoleGrant.scope_id.in_(buildings))) or 0)
    offered, taken = (await session.execute(select(func.count(), func.count(ErrandOffer.taken_by_id))
                                            .join(Case, Case.id == ErrandOffer.case_id)
                                            .where(Case.grid_id.in_(grid_ids), ErrandOffer.offered_at >= since,
                                                   ErrandOffer.offered_at < until))).one()
    return OrgFigures(total, headed, int(offered), int(taken))
