"""The report in words: figures, targets, scopes and periods as the reader
reads them (the chat summary, and the labels the chart, the workbook and the
digest share).  Every function takes the reader's translator ``_``
(:func:`bot.services.l10n.translator`).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.services import diary
from bot.services.escape import esc
from bot.services.l10n import Translate, Translator
from bot.services.reports.common import GridRow, Report, Row, ScopeKind, Target
from bot.services.reports.periods import Period
from models import EntryKind


def pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def duration(_: Translate, seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 3600:
        return _("{n} min").format(n=max(0, round(seconds / 60)))
    if seconds < 48 * 3600:
        return _("{n} h").format(n=f"{seconds / 3600:.1f}")
    return _("{n} d").format(n=f"{seconds / 86400:.1f}")


def mark(target: Target) -> str:
    return {True: "✅", False: "❌", None: "▫️"}[target.met]


def target_label(_: Translate, key: str) -> str:
    return {
        "completion": _("Completion rate"),
        "on_time": _("On-time completion"),
        "rework": _("Rework rate"),
        "satisfied": _("Rated 4-5"),
    }[key]


def target_rule(target: Target) -> str:
    return ("≤ " if target.ceiling else "≥ ") + f"{target.threshold * 100:g}%"


def scope_kind_label(_: Translate, kind: ScopeKind) -> str:
    return {ScopeKind.district: _("district"), ScopeKind.community: _("community"),
            ScopeKind.grid: _("grid")}[kind]


def period_label(_: Translate, period: Period) -> str:
    names = {"tw": _("this week"), "lw": _("last week"), "tm": _("this month"), "lm": _("last month"),
             "ty": _("this year")}
    span = f"{period.start:%Y-%m-%d} – {period.last:%Y-%m-%d}"
    return f"{names[period.code]}, {span}" if period.code in names else span


def care_label(_: Translate, key: str) -> str:
    """A visit's care tag, named as the worker chose it in the diary (one name everywhere)."""
    return diary.texts.category_label(_, EntryKind.visit, key)


def opinion_label(_: Translate, key: str) -> str:
    """An opinion's category, named as the worker chose it in the diary."""
    return diary.texts.category_label(_, EntryKind.opinion, key)


def categories(_: Translate, counts: dict[str, int], label) -> str:  # type: ignore[no-untyped-def]
    return ", ".join(f"{label(_, k)} {n}" for k, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def title(_: Translate, report: Report) -> str:
    return _("{scope} ({kind}), {period}").format(scope=report.scope.name,
                                                  kind=scope_kind_label(_, report.scope.kind),
                                                  period=period_label(_, report.period))


def as_of_label(report: Report) -> str:
    return report.as_of.astimezone(ZoneInfo(report.tz_name)).strftime("%Y-%m-%d %H:%M")


def summary_lines(_: Translator, report: Report) -> list[str]:
    """The figures of the summary, one line each (HTML)."""
    c = report.cases
    t = {x.key: x for x in report.targets}

    def checked(key: str) -> str:
        x = t[key]
        return _("{label} {value} {mark} (target {rule})").format(
            label=target_label(_, key), value=pct(x.value), mark=mark(x), rule=target_rule(x))

    lines = [
        _("Received {sent} · accepted {accepted} · closed {closed} · withdrawn {withdrawn} · not closed yet "
          "{open}").format(sent=c.sent, accepted=c.accepted, closed=c.completed, withdrawn=c.withdrawn, open=c.open),
        checked("completion") + " · " + _("closed {closed} of {due} due").format(closed=c.completed, due=c.due),
        checked("on_time") + " · " + checked("rework"),
        _("Satisfaction {mean} · ratings {ratings} · comments {comments}").format(
            mean="–" if c.satisfaction_mean is None else f"{c.satisfaction_mean:.2f}/5", ratings=c.ratings,
            comments=c.comments) + " · " + checked("satisfied"),
        _("Median time to accept {accept} · to close {close}").format(
            accept=duration(_, c.accept_seconds_median), close=duration(_, c.close_seconds_median)),
        _("Emergencies {count} · median time to acknowledge {ack}").format(
            count=c.emergencies, ack=duration(_, c.emergency_ack_seconds_median)),
        open_now_line(_, report),
    ]
    d = report.diary
    lines.append(_("Visits {count}").format(count=d.visits)
                 + (f" ({categories(_, d.visits_by_category, care_label)})" if d.visits else "")
                 + " · " + _("opinions {count}").format(count=d.opinions)
                 + " · " + _.ngettext("problems found {count} ({cases} made a case)",
                                      "problems found {count} ({cases} made cases)",
                                      d.cases_opened).format(count=d.problems, cases=d.cases_opened))
    lines.append(households_line(_, report))
    a = report.appointments
    lines.append(_("Appointments {booked} · attended {attended} · no-shows {no_show} ({rate}) · "
                   "not marked {unmarked}").format(booked=a.booked, attended=a.attended, no_show=a.no_show,
                                                   rate=pct(a.no_show_rate), unmarked=a.unmarked))
    t = report.consultations
    lines.append(_("Residents' consultations {count} · turnout {rate} ({answered} of {asked} asked)").format(
        count=t.consultations if t else 0, rate=pct(t.rate if t else None), answered=t.answered if t else 0,
        asked=t.asked if t else 0))
    o, e = report.organisation, report.events
    lines.append(_("Buildings with a building head {headed}/{total} ({rate}) · errands offered to volunteers "
                   "{offered}, taken {taken}").format(headed=o.buildings_with_head, total=o.buildings,
                                                      rate=pct(o.coverage), offered=o.errands_offered,
                                                      taken=o.errands_taken))
    lines.append(_("Service days held {held} · seats taken {signed} · attended {attended} · volunteer hours "
                   "{hours}").format(held=e.held, signed=e.signed_up, attended=e.attended, hours=e.volunteer_hours))
    return lines


def households_line(_: Translate, report: Report) -> str:
    """The other snapshot: households overdue for a visit now."""
    return _("Households overdue for a visit now: {count}").format(count=report.households_overdue)


def open_now_line(_: Translate, report: Report) -> str:
    """The snapshot: open now, and how many of those are overdue (never more than open)."""
    return _("Open now {open} · of them overdue {overdue}").format(open=report.open_now,
                                                                  overdue=report.overdue_cases)


def weakest(report: Report, limit: int = 3) -> list[GridRow | Row]:
    """The units below the completion target, lowest first (grids; communities for a district)."""
    threshold = next(t.threshold for t in report.targets if t.key == "completion")
    rows: list[GridRow | Row] = list(report.by_community if report.scope.kind == ScopeKind.district
                                     else report.by_grid)
    below = [r for r in rows if r.figures.completion_rate is not None and r.figures.completion_rate < threshold]
    below.sort(key=lambda r: (r.figures.completion_rate or 0, r.label))
    return below[:limit]


def summary_text(_: Translator, report: Report) -> str:
    """The short chat summary (HTML)."""
    lines = ["📊 <b>" + esc(title(_, report)) + "</b>",
             _("As of {time} ({tz})").format(time=as_of_label(report), tz=report.tz_name), ""]
    lines += [esc(line) for line in summary_lines(_, report)]
    low = weakest(report)
    if low:
        lines.append("")
        lines.append(_("Below the completion target:"))
        lines += [f"• {esc(r.label)} {pct(r.figures.completion_rate)} ({r.figures.completed}/{r.figures.due})"
                  for r in low]
    return "\n".join(lines)
