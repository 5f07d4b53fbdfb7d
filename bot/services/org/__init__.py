"""The district's own organisation: building and unit heads, volunteers,
party members and alliance units (issue 17; docs/org.md).

    heads       the places a head heads; the building card's heads and central households
    alliances   the community's alliance units (红色联盟), as imported
    figures     building-head coverage, errands offered to and taken by volunteers (the reports)

A head's and a volunteer's actions live with the matter they touch (home
claims in ``bot.services.homes``, people without Telegram in
``bot.services.offline``, cases filed for them and proxy errands offered to
volunteers in ``bot.services.cases``, notices in ``bot.services.broadcasts``);
this package is what is the organisation's own.
"""

from __future__ import annotations

from bot.services.org.alliances import Alliance, alliances
from bot.services.org.figures import OrgFigures, org_figures, org_figures_by
from bot.services.org.heads import CardPerson, HeadPlace, building_people, my_places

__all__ = ["Alliance", "CardPerson", "HeadPlace", "OrgFigures", "alliances", "building_people", "my_places",
           "org_figures", "org_figures_by"]
