"""What the organisation's end-to-end tests share."""

from __future__ import annotations

from sqlalchemy import select

from bot.services import cases
from models import ServiceItem, User, utcnow
from tests.e2e.cases.helpers import RESIDENT, WORKER


async def accepted_errand(bot) -> int:  # type: ignore[no-untyped-def]
    """王桂芝's proxy errand (pension certification), accepted by 张伟: its id."""
    settings, now = bot.app.settings, utcnow()
    async with bot.app.sessionmaker() as s:
        resident = await s.scalar(select(User).where(User.telegram_id == RESIDENT))
        worker = await s.scalar(select(User).where(User.telegram_id == WORKER))
        service = await s.scalar(select(ServiceItem).where(ServiceItem.code == "PX-PENSION"))
        draft = await cases.start_for_service(s, resident, service.id, now)
        await cases.add_text(s, resident, draft.id, "帮我去社保局办养老金资格认证", "zh-Hans")
        await cases.set_authorisation(s, resident, draft.id, "可以代交材料")
        case = await cases.submit(s, settings, resident, draft.id, now)
        await cases.accept(s, settings, worker, case.id, now)
        await s.commit()
        return case.id
