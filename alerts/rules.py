"""Evaluating the configured rules against the store: what breaches right now.

Each rule yields findings keyed by a dedup key (`rule|subject codes`), the
identity an alert keeps while it fires. Figures are exact decimal strings.
Stock-level rules work per material and site, the level safety stock is
planned at, and read the figures consolidation wrote on the consolidated
table (safety stock, consumption per day, days of cover): one computation,
so an alert says what the planners' table says. A material whose rows vanished from every source (stock gone to
zero in a system that keeps no zero rows) is reported as `unknown` rather
than cleared: its alert stays firing until the data says otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Connection

from stockbridge.alerts.settings import (
    AlertRule,
    BelowSafetyStockRule,
    ConflictRule,
    FailingStreamRule,
    NegativeStockRule,
    ProjectedStockoutRule,
    RejectsRule,
    SourceScope,
    StaleSourceRule,
    StockScope,
)
from stockbridge.config.fields import format_duration
from stockbridge.config.models import Settings
from stockbridge.config.schedule import STREAM_NAMES, Schedule
from stockbridge.store import alert_queries as q
from stockbridge.store.alert_outbox import AlertStateRow

__all__ = ["Evaluation", "Finding", "dedup_key", "evaluate_rules", "is_stale"]

_MAX_ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class Finding:
    dedup_key: str
    rule: AlertRule
    subject: dict[str, str]
    figures: dict[str, str]


@dataclass(slots=True)
class Evaluation:
    findings: dict[str, Finding] = field(default_factory=dict)
    unknown: set[str] = field(default_factory=set)
    """Firing alerts whose subject the store no longer shows: left as they are."""


def dedup_key(rule: AlertRule, subject: Mapping[str, str]) -> str:
    """`rule|code|code…`: one alert per rule and subject."""
    return "|".join((rule.name, *subject.values()))


def evaluate_rules(
    conn: Connection,
    rules: tuple[AlertRule, ...],
    settings: Settings,
    firing: Mapping[str, AlertStateRow],
    *,
    now: datetime,
) -> Evaluation:
    """Every finding of every rule, as of `now`."""
    evaluation = Evaluation()
    for rule in rules:
        found = _findings(conn, rule, settings, now)
        evaluation.findings.update((f.dedup_key, f) for f in found)
        if rule.kind in {"below_safety_stock", "projected_stockout"}:
            evaluation.unknown |= _vanished(conn, rule, firing, evaluation.findings)
    return evaluation


def _findings(
    conn: Connection, rule: AlertRule, settings: Settings, now: datetime
) -> list[Finding]:
    options = rule.options
    if isinstance(options, BelowSafetyStockRule):
        return _below_safety(conn, rule, options)
    if isinstance(options, ProjectedStockoutRule):
        return _projected_stockout(conn, rule, options)
    if isinstance(options, ConflictRule):
        return _conflicts(conn, rule, options, now)
    if isinstance(options, StaleSourceRule):
        return _stale(conn, rule, options, settings, now)
    if isinstance(options, FailingStreamRule):
        return _failing(conn, rule, options)
    if isinstance(options, RejectsRule):
        return _rejects(conn, rule, options)
    if isinstance(options, NegativeStockRule):
        return _negative(conn, rule, options)
    msg = f"no evaluation for alert rule kind {rule.kind!r}"
    raise TypeError(msg)


def _finding(
    rule: AlertRule, subject: dict[str, str], figures: dict[str, str]
) -> Finding:
    return Finding(dedup_key(rule, subject), rule, subject, figures)


def _scope(options: StockScope) -> q.StockScopeFilter:
    return q.StockScopeFilter(
        tuple(options.materials), tuple(options.sites), tuple(options.warehouses)
    )


def _below_safety(
    conn: Connection, rule: AlertRule, options: BelowSafetyStockRule
) -> list[Finding]:
    findings = []
    for row in q.stock_by_site(conn, _scope(options), only_below_safety=True):
        safety = row.safety_stock or Decimal(0)
        figures = {
            "available": str(row.available),
            "safety_stock": str(safety),
            "shortfall": str(safety - row.available),
            "unit": row.unit,
        }
        subject = {"material": row.material, "site": row.site}
        findings.append(_finding(rule, subject, figures))
    return findings


def _projected_stockout(
    conn: Connection, rule: AlertRule, options: ProjectedStockoutRule
) -> list[Finding]:
    findings = []
    for row in q.stock_by_site(conn, _scope(options), only_below_safety=False):
        cover, daily = row.days_of_cover, row.consumption_per_day
        if cover is None or daily is None or cover >= options.days:
            continue
        figures = {
            "available": str(row.available),
            "daily_consumption": f"{daily:.3f}",
            "days_of_cover": f"{cover:.1f}",
            "horizon_days": str(options.days),
            "unit": row.unit,
        }
        subject = {"material": row.material, "site": row.site}
        findings.append(_finding(rule, subject, figures))
    return findings


def _negative(conn: Connection, rule: AlertRule, options: StockScope) -> list[Finding]:
    findings = []
    for row in q.negative_stock(conn, _scope(options)):
        subject = {
            name: str(row[name])
            for name in ("material", "site", "warehouse", "location", "batch", "status")
        }
        figures = {"quantity": str(row["quantity"]), "unit": str(row["unit"])}
        findings.append(_finding(rule, subject, figures))
    return findings


def _conflicts(
    conn: Connection, rule: AlertRule, options: ConflictRule, now: datetime
) -> list[Finding]:
    opened_before = None if options.older_than is None else now - options.older_than
    rows = q.open_conflicts(
        conn,
        _scope(options),
        opened_before=opened_before,
        larger_than=options.larger_than,
    )
    findings = []
    for row in rows:
        figures = {
            "difference": str(row.difference),
            "source_values": ", ".join(
                f"{source} {value}"
                for source, value in sorted(row.source_values.items())
            ),
            "open_since": row.first_seen_at.isoformat(),
            "unit": row.unit,
        }
        findings.append(_finding(rule, dict(row.key), figures))
    return findings


def _in_scope(options: SourceScope, source: str, stream: str) -> bool:
    return (not options.sources or source in options.sources) and (
        not options.streams or stream in options.streams
    )


def is_stale(
    last: datetime,
    schedule: Schedule,
    options: StaleSourceRule,
    *,
    now: datetime,
    timezone: str,
) -> bool:
    """Whether `intervals` runs of `schedule` (or `after`) have passed since `last`."""
    if options.after is not None:
        return now - last >= options.after
    if schedule.every is not None:
        return now - last >= schedule.every * options.intervals
    trigger = CronTrigger.from_crontab(str(schedule.cron), timezone=timezone)
    moment = last
    for _ in range(options.intervals):
        moment = trigger.get_next_fire_time(None, moment + timedelta(seconds=1))
        if moment is None or moment > now:
            return False
    return True


def _stale(
    conn: Connection,
    rule: AlertRule,
    options: StaleSourceRule,
    settings: Settings,
    now: datetime,
) -> list[Finding]:
    findings = []
    for runs in q.stream_run_times(conn):
        source = settings.sources.get(runs.source)
        if source is None or not source.enabled or runs.stream not in STREAM_NAMES:
            continue
        schedule = source.schedule.for_stream(runs.stream)
        if schedule is None or not _in_scope(options, runs.source, runs.stream):
            continue
        last = runs.last_success_at or runs.first_started_at
        if not is_stale(last, schedule, options, now=now, timezone=settings.timezone):
            continue
        expected = (
            format_duration(options.after)
            if options.after is not None
            else f"{options.intervals} × {schedule}"
        )
        figures = {
            "last_success": runs.last_success_at.isoformat()
            if runs.last_success_at
            else "",
            "stale_after": expected,
        }
        subject = {"source": runs.source, "stream": runs.stream}
        findings.append(_finding(rule, subject, figures))
    return findings


def _failing(
    conn: Connection, rule: AlertRule, options: FailingStreamRule
) -> list[Finding]:
    findings = []
    for row in q.failing_streams(conn, options.failures):
        source, stream = str(row["source"]), str(row["stream"])
        if not _in_scope(options, source, stream):
            continue
        error = str(row["error"])
        if len(error) > _MAX_ERROR_CHARS:
            error = error[: _MAX_ERROR_CHARS - 1] + "…"
        figures = {"failures": str(options.failures), "last_error": error}
        findings.append(_finding(rule, {"source": source, "stream": stream}, figures))
    return findings


def _rejects(conn: Connection, rule: AlertRule, options: RejectsRule) -> list[Finding]:
    findings = []
    for row in q.open_reject_counts(conn, options.above):
        source, stream = str(row["source"]), str(row["stream"])
        if not _in_scope(options, source, stream):
            continue
        figures = {
            "open_rejects": str(row["open_rejects"]),
            "threshold": str(options.above),
        }
        findings.append(_finding(rule, {"source": source, "stream": stream}, figures))
    return findings


def _vanished(
    conn: Connection,
    rule: AlertRule,
    firing: Mapping[str, AlertStateRow],
    findings: Mapping[str, Finding],
) -> set[str]:
    absent = {
        key: state
        for key, state in firing.items()
        if state.rule == rule.name and key not in findings
    }
    pairs = {
        key: (
            str(state.detail["subject"]["material"]),
            str(state.detail["subject"]["site"]),
        )
        for key, state in absent.items()
    }
    present = q.present_material_sites(conn, sorted(set(pairs.values())))
    return {key for key, pair in pairs.items() if pair not in present}
