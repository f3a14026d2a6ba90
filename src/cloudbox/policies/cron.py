"""5-field cron schedules evaluated on the wall clock of a stated time zone.

Slots are wall-clock times; each maps to one UTC instant:
- a wall time that exists once is that instant;
- in the hour repeated when clocks go back, a slot fires at its first occurrence only;
- in the hour skipped when clocks go forward, a slot fires at the wall time shifted by
  the gap (02:30 becomes 03:30), the PEP 495 reading of a time that does not exist.
So a schedule never fires twice for one wall-clock time. Day-of-month and day-of-week
combine as in classic cron: when both are restricted, either one matching is enough.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from cloudbox.policies.errors import InvalidSchedule, InvalidTimezone

#: one field: `*`, numbers or 3-letter names, ranges, steps, lists
_ATOM = r"(\*|[0-9]{1,2}|[A-Za-z]{3})(-([0-9]{1,2}|[A-Za-z]{3}))?(/[0-9]{1,2})?"
_FIELD = re.compile(rf"^{_ATOM}(,{_ATOM})*$")
_NAMED_FIELDS = (3, 4)  # month, day of week
FIELD_NAMES = ("minute", "hour", "day of month", "month", "day of week")
#: bound on the slots stepped over while looking for one (DST edges skip a few)
_MAX_STEPS = 1000


def zone(name: str) -> ZoneInfo:
    try:
        if not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidTimezone(details={"field": "timezone", "value": name[:64]}) from None


def validate(expr: str, tz_name: str) -> str:
    """The normalised expression (single spaces), or INVALID_SCHEDULE / INVALID_TIMEZONE."""
    tz = zone(tz_name)
    fields = expr.split()
    if len(fields) != 5:
        raise InvalidSchedule(
            "A schedule has exactly 5 fields: minute hour day-of-month month day-of-week",
            details={"field": "schedule", "fields": len(fields)},
        )
    for index, field in enumerate(fields):
        if not _FIELD.match(field) or (index not in _NAMED_FIELDS and re.search("[A-Za-z]", field)):
            raise InvalidSchedule(
                f"The {FIELD_NAMES[index]} field is not valid",
                details={"field": "schedule", "position": index + 1, "value": field},
            )
    normalised = " ".join(fields)
    if not croniter.is_valid(normalised):
        raise InvalidSchedule(details={"field": "schedule", "value": normalised})
    try:
        next_slot(normalised, tz, datetime.now(UTC))
    except Exception:  # noqa: BLE001 - croniter's "no date found" and friends
        raise InvalidSchedule(
            "The schedule never fires", details={"field": "schedule", "value": normalised}
        ) from None
    return normalised


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    """A naive wall-clock time in `tz` as a UTC instant (first occurrence; gaps shift)."""
    return local.replace(tzinfo=tz, fold=0).astimezone(UTC)


def _wall(instant: datetime, tz: ZoneInfo) -> datetime:
    return instant.astimezone(tz).replace(tzinfo=None)


def next_slot(expr: str, tz: ZoneInfo, after: datetime) -> datetime:
    """The first slot strictly after `after` (UTC)."""
    it = croniter(expr, _wall(after, tz).replace(second=0, microsecond=0))
    for _ in range(_MAX_STEPS):
        candidate = to_utc(it.get_next(datetime), tz)
        if candidate > after:
            return candidate
    raise RuntimeError("no slot found")  # pragma: no cover - DST edges skip a handful


def latest_slot(expr: str, tz: ZoneInfo, now: datetime) -> datetime:
    """The last slot at or before `now` (UTC)."""
    start = _wall(now, tz).replace(second=0, microsecond=0) + timedelta(seconds=1)
    it = croniter(expr, start)
    for _ in range(_MAX_STEPS):
        candidate = to_utc(it.get_prev(datetime), tz)
        if candidate <= now:
            return candidate
    raise RuntimeError("no slot found")  # pragma: no cover
