"""``consultations.close``: every minute, close the consultations past their
closing time and post their results (bot.services.consultations.close_due)."""

from __future__ import annotations

from datetime import timedelta

from bot.jobs import JobContext, recurring
from bot.services.consultations.service import close_due


@recurring("consultations.close", every=timedelta(minutes=1))
async def close(ctx: JobContext) -> None:
    async with ctx.sessionmaker() as session:
        while await close_due(session, ctx.settings, ctx.now):
            await session.commit()
        await session.commit()
