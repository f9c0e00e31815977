"""Plan `backup prune`: which backups a borg-style retention policy keeps, and why.

``plan_retention(backups, policy, now)`` is pure. It returns one
RetentionDecision per backup, newest first, each saying whether the backup is
kept, the rule that keeps it and a sentence a person can check; `backup prune`
deletes exactly the decisions with ``keep=False`` and a dry run prints the same
list.

The rules are borg prune's (borg 1.2 to 2.0, ``archiver/prune_cmd.py`` and
docs/misc/prune-example.txt), applied to complete backups only:

- ``keep_within``: keep every backup started after ``now - keep_within``
  (strictly after, as borg's ``a.ts > target``).
- Then the count rules in borg's order: last (borg's ``--keep-last`` *is*
  ``--keep-secondly``: the newest backup of each second), minutely, hourly,
  daily, weekly (ISO 8601 week), monthly, yearly. Each walks the backups newest
  first and keeps the newest backup of each period until it has kept its count.
  A period whose newest backup is already kept (by ``keep_within`` or an
  earlier rule) is passed over and does not count; its older backups are not
  considered either.
- A count rule that runs out of backups before reaching its count also keeps
  the oldest backup, unless something keeps it already (borg >= 1.2.0b2,
  "prune: keep oldest archive when retention target not met"); its rule reads
  e.g. ``yearly[oldest]``.

Periods are calendar periods in UTC (borg uses the local time zone of the
machine that runs prune; a server fleet's backups should not depend on that).
Ties in start time are broken by id, so the result never depends on the order
the backups were listed in.

On top of borg:

- Only ``complete`` backups (those with a complete manifest) count for the
  rules or are kept by them, as borg ignores checkpoint archives.
- An ``incomplete`` backup newer than the newest complete one and younger than
  ``grace`` may still be running and is kept; every other incomplete or failed
  backup is deleted.
- The newest complete backup is never deleted, whatever the policy says.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from toolkit.catalog.model import format_duration, parse_duration

BackupStatus = Literal["complete", "incomplete", "failed"]
BACKUP_STATUSES: tuple[str, ...] = ("complete", "incomplete", "failed")
DEFAULT_GRACE = timedelta(days=1)

RULE_WITHIN = "within"
RULE_NEWEST = "newest"
RULE_RUNNING = "running"
REASON_NEWEST = "the newest complete backup is never deleted"
REASON_RUNNING = "may still be running"


@dataclass(frozen=True)
class BackupRecord:
    """One backup as storage lists it: its id, when it started, and whether it completed."""

    id: str
    started_at: datetime
    status: BackupStatus


@dataclass(frozen=True)
class RetentionPolicy:
    """borg prune's options. None leaves a rule out; counts are positive.

    ``keep_last`` is borg's ``--keep-last``, which borg defines as
    ``--keep-secondly``: the newest backup of each of the N newest seconds.
    Raise ValueError for a count that is not a positive integer or a
    ``keep_within`` that is not a positive timedelta.
    """

    keep_within: timedelta | None = None
    keep_last: int | None = None
    keep_minutely: int | None = None
    keep_hourly: int | None = None
    keep_daily: int | None = None
    keep_weekly: int | None = None
    keep_monthly: int | None = None
    keep_yearly: int | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.keep_within is not None and (
            not isinstance(self.keep_within, timedelta) or self.keep_within <= timedelta(0)
        ):
            problems.append(f"keep_within must be a positive duration, not {self.keep_within!r}")
        for rule in PERIOD_RULES:
            count = getattr(self, rule.option)
            if count is None:
                continue
            if not isinstance(count, int) or isinstance(count, bool) or count < 1:
                problems.append(f"{rule.option} must be a positive integer, not {count!r}")
        if problems:
            raise ValueError("; ".join(problems))

    @property
    def empty(self) -> bool:
        """True when no rule is set: pruning with it would delete all but the newest backup."""
        return all(getattr(self, option.name) is None for option in fields(self))


@dataclass(frozen=True)
class RetentionDecision:
    """Keep or delete one backup.

    ``rules`` names what keeps it: ``within``, ``daily[3]`` (the 3rd backup the
    daily rule kept), ``yearly[oldest]``, ``newest`` or ``running``; it is
    empty for a deletion. ``reason`` says why, for a deletion why no rule keeps
    the backup.
    """

    id: str
    keep: bool
    rules: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class PeriodRule:
    """A count rule: the policy option it reads and the calendar period it keeps one of."""

    name: str
    option: str
    unit: str
    units: str
    period: Callable[[datetime], tuple[int, ...]]
    label_format: str


# borg's order: finer rules first, so a coarser rule passes over periods a finer one kept.
PERIOD_RULES: tuple[PeriodRule, ...] = (
    PeriodRule(
        "last",
        "keep_last",
        "second",
        "seconds",
        lambda t: (t.year, t.month, t.day, t.hour, t.minute, t.second),
        "%Y-%m-%d %H:%M:%S",
    ),
    PeriodRule(
        "minutely",
        "keep_minutely",
        "minute",
        "minutes",
        lambda t: (t.year, t.month, t.day, t.hour, t.minute),
        "%Y-%m-%d %H:%M",
    ),
    PeriodRule(
        "hourly",
        "keep_hourly",
        "hour",
        "hours",
        lambda t: (t.year, t.month, t.day, t.hour),
        "%Y-%m-%d %H:00",
    ),
    PeriodRule(
        "daily", "keep_daily", "day", "days", lambda t: (t.year, t.month, t.day), "%Y-%m-%d"
    ),
    # borg's "%G-%V": the ISO 8601 week-based year and week (Monday to Sunday).
    PeriodRule(
        "weekly",
        "keep_weekly",
        "week",
        "weeks",
        lambda t: tuple(t.isocalendar())[:2],
        "%G-W%V",
    ),
    PeriodRule("monthly", "keep_monthly", "month", "months", lambda t: (t.year, t.month), "%Y-%m"),
    PeriodRule("yearly", "keep_yearly", "year", "years", lambda t: (t.year,), "%Y"),
)

POLICY_KEYS: tuple[str, ...] = tuple(option.name for option in fields(RetentionPolicy))


def parse_keep_within(value: int | float | str) -> int:
    """Return the seconds of a keep_within duration; raise ValueError for a bad one.

    A catalog duration ("36h", "7d", "2w", "1y", or seconds), plus borg's
    "36H". A bare "m" is refused: borg reads "1m" as 31 days, catalog
    durations read it as a minute, and guessing wrong deletes backups.
    """
    text = str(value).strip()
    if re.fullmatch(r"[0-9]+m", text):
        raise ValueError(
            f"{value!r} is ambiguous: borg reads m as months (31 days), catalog durations as "
            "minutes; write 31d for a borg month, or hours (e.g. 2h)"
        )
    if re.fullmatch(r"[0-9]+H", text):
        return int(text[:-1]) * 3600
    return parse_duration(value)


def parse_policy(section: Mapping[str, Any]) -> RetentionPolicy:
    """Given the catalog's ``backup.retention`` mapping, return its RetentionPolicy.

    ``keep_within`` is a catalog duration ("7d", "36h" or borg's "36H", or
    seconds; a bare "m" is refused, see ``parse_keep_within``); the other
    keys are positive integers. Raise ValueError listing every unknown key and
    bad value at once. An empty mapping gives an empty policy, which
    plan_retention refuses.
    """
    problems = [
        f"unknown retention key {key!r}"
        for key in sorted(map(str, section))
        if key not in POLICY_KEYS
    ]
    values: dict[str, Any] = {}
    for key in POLICY_KEYS:
        if key not in section or section[key] is None:
            continue
        value = section[key]
        if key == "keep_within":
            try:
                seconds = parse_keep_within(value)
            except ValueError as error:
                problems.append(f"keep_within: {error}")
                continue
            if seconds == 0:
                problems.append(f"keep_within: must be longer than 0s, not {value!r}")
            else:
                values[key] = timedelta(seconds=seconds)
        elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
            problems.append(f"{key}: must be a positive integer, not {value!r}")
        else:
            values[key] = value
    if problems:
        raise ValueError("; ".join(problems))
    return RetentionPolicy(**values)


@dataclass
class _RuleOutcome:
    """What one count rule did, kept to explain the deletions afterwards."""

    rule: PeriodRule
    count: int
    kept: int = 0
    stopped_at: int | None = None  # position (newest first) of the backup that filled the count


def plan_retention(
    backups: Sequence[BackupRecord],
    policy: RetentionPolicy,
    now: datetime,
    *,
    grace: timedelta = DEFAULT_GRACE,
) -> list[RetentionDecision]:
    """Given every backup in a destination, a policy and the current time, decide each backup.

    Return one RetentionDecision per backup, newest first (ties by id). Raise
    ValueError when the policy has no rule at all (that would delete every
    backup but the newest, which is never what was meant), when two backups
    share an id, when a status is unknown, or when a time is naive.
    """
    if policy.empty:
        raise ValueError(
            "the retention policy sets no keep_* rule; refusing to delete every backup "
            "but the newest"
        )
    _require_aware(now, "now")
    seen: set[str] = set()
    for backup in backups:
        if backup.id in seen:
            raise ValueError(f"backup id {backup.id!r} is listed twice")
        seen.add(backup.id)
        if backup.status not in BACKUP_STATUSES:
            raise ValueError(f"backup {backup.id}: unknown status {backup.status!r}")
        _require_aware(backup.started_at, f"backup {backup.id} started_at")

    ordered = sorted(backups, key=_sort_key, reverse=True)
    complete = [backup for backup in ordered if backup.status == "complete"]
    kept: dict[str, tuple[str, str]] = {}  # id -> (rule, reason), first rule wins as in borg

    if policy.keep_within is not None:
        cutoff = now - policy.keep_within
        within = format_duration(int(policy.keep_within.total_seconds()))
        for backup in complete:
            if backup.started_at > cutoff:
                kept[backup.id] = (RULE_WITHIN, f"started within {within} before now")

    outcomes = [
        _apply_period_rule(complete, rule, count, kept)
        for rule in PERIOD_RULES
        if (count := getattr(policy, rule.option)) is not None
    ]

    newest = complete[0] if complete else None
    if newest is not None and newest.id not in kept:
        kept[newest.id] = (RULE_NEWEST, REASON_NEWEST)

    position = {backup.id: index for index, backup in enumerate(complete)}
    decisions = []
    for backup in ordered:
        if backup.id in kept:
            rule, reason = kept[backup.id]
            decisions.append(RetentionDecision(backup.id, True, (rule,), reason))
        elif backup.status == "complete":
            reason = _explain_deletion(backup, position[backup.id], complete, outcomes, policy)
            decisions.append(RetentionDecision(backup.id, False, (), reason))
        elif (
            backup.status == "incomplete"
            and (newest is None or backup.started_at > newest.started_at)
            and now - backup.started_at < grace
        ):
            decisions.append(RetentionDecision(backup.id, True, (RULE_RUNNING,), REASON_RUNNING))
        else:
            reason = f"{backup.status} (no complete manifest)"
            decisions.append(RetentionDecision(backup.id, False, (), reason))
    return decisions


def _apply_period_rule(
    complete: list[BackupRecord], rule: PeriodRule, count: int, kept: dict[str, tuple[str, str]]
) -> _RuleOutcome:
    """Run one count rule over the complete backups (newest first), adding what it keeps to kept."""
    outcome = _RuleOutcome(rule=rule, count=count)
    previous_period: tuple[int, ...] | None = None
    for index, backup in enumerate(complete):
        period = rule.period(_utc(backup.started_at))
        if period == previous_period:
            continue  # not the newest backup of its period
        previous_period = period
        if backup.id in kept:
            continue  # the period is used, but an earlier rule kept its backup: not counted
        outcome.kept += 1
        label = _utc(backup.started_at).strftime(rule.label_format)
        kept[backup.id] = (
            f"{rule.name}[{outcome.kept}]",
            f"the newest backup of {rule.unit} {label} UTC ({rule.name} keeps {count})",
        )
        if outcome.kept == count:
            outcome.stopped_at = index
            return outcome
    if complete and complete[-1].id not in kept:
        oldest = complete[-1]
        kept[oldest.id] = (
            f"{rule.name}[oldest]",
            f"the oldest backup: {rule.name} found only {outcome.kept} of {count} "
            f"{rule.unit if count == 1 else rule.units}, "
            "so it keeps the oldest until newer backups fill it",
        )
    return outcome


def _explain_deletion(
    backup: BackupRecord,
    index: int,
    complete: list[BackupRecord],
    outcomes: list[_RuleOutcome],
    policy: RetentionPolicy,
) -> str:
    """Say, rule by rule, why none of them keeps this complete backup."""
    parts = []
    if policy.keep_within is not None:
        within = format_duration(int(policy.keep_within.total_seconds()))
        parts.append(f"within: started {within} or more before now")
    for outcome in outcomes:
        rule = outcome.rule
        period = rule.period(_utc(backup.started_at))
        stopped_at = outcome.stopped_at
        if (
            stopped_at is not None
            and index > stopped_at
            and period != rule.period(_utc(complete[stopped_at].started_at))
        ):
            if rule.name == "last":
                parts.append(f"last: older than the {outcome.count} newest")
            else:
                unit = rule.unit if outcome.count == 1 else rule.units
                parts.append(f"{rule.name}: older than the {outcome.count} {unit} it keeps")
        else:
            parts.append(f"{rule.name}: not the newest backup of its {rule.unit}")
    return "no rule keeps it: " + "; ".join(parts)


def _sort_key(backup: BackupRecord) -> tuple[datetime, str]:
    return (_utc(backup.started_at), backup.id)


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _require_aware(moment: datetime, what: str) -> None:
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime, not {moment!r}")
