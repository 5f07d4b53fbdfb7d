"""Every recurring job is registered: moving a module must never silently stop one."""

from __future__ import annotations

from bot.jobs import load_jobs

# Each job by name, with the module that declares it.  A new job is added here on purpose.
EXPECTED = {
    "cases.time_limits": "bot.services.cases.jobs",
    "cases.emergency_repeat": "bot.services.cases.jobs",
    "cases.auto_close": "bot.services.cases.jobs",
    "cases.accept_reminders": "bot.services.cases.jobs",
    "cases.escalation_climb": "bot.services.cases.jobs",
    "appointments.holiday_sweep": "bot.services.appointments.jobs",
    "diary.nudge": "bot.services.diary.jobs",
    "diary.due_list": "bot.services.diary.jobs",
    "diary.weekly_summary": "bot.services.diary.jobs",
    "diary.close_stale_patrols": "bot.services.diary.jobs",
    "reports.weekly_digest": "bot.services.reports.jobs",
    "broadcast_ack_followups": "bot.services.broadcasts.jobs",
    "privacy.retention": "bot.services.privacy.jobs",
    "consultations.close": "bot.services.consultations.jobs",
    "events.reminders": "bot.services.events.jobs",
}


def test_every_job_is_registered_from_its_feature_package() -> None:
    jobs = load_jobs()
    assert {name: job.func.__module__ for name, job in jobs.items()} == EXPECTED
