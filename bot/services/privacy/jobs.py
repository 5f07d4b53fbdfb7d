"""The privacy feature's recurring job: retention (docs/privacy.md)."""

from __future__ import annotations

import logging
from datetime import time

from bot.jobs import JobContext, recurring
from bot.services.privacy.retention import purge_expired

log = logging.getLogger(__name__)


@recurring("privacy.retention", at=time(3, 30))
async def retention(ctx: JobContext) -> None:
    """Nightly: purge raw updates and sent texts older than RETENTION_DAYS."""
    result = await purge_expired(ctx.sessionmaker, ctx.settings.retention_days, ctx.now)
    log.info("retention: %d inbound updates deleted, %d outbox texts cleared, %d Open311 contacts cleared",
             result.inbound_deleted, result.outbox_cleared, result.contacts_cleared)
