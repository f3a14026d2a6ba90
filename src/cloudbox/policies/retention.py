"""Which of a policy's automatic backups to keep: the rule of docs/automatic-backups.md.

Pure functions over plain values, so the rule can be property-tested against a
reference implementation; `cloudbox.policies.service` loads the rows and deletes.

The rule, for one policy, evaluated at time `now`:

1. Candidates are the project's backups with this `policy_id`, type `automatic`, status
   `completed`, ordered newest first by (`created_at`, `id`). Nothing else is ever
   deleted: not manual, imported or pre-restore backups, not another policy's, not
   backups still being created, not failed ones (they hold no archive).
2. With `max_age_days`, candidates created before `now - max_age_days` are deleted.
3. If no keep rule is set, every remaining candidate is kept. Otherwise a remaining
   candidate is kept when at least one keep rule selects it (restic's `forget`):
   - `keep_last n`: the n newest;
   - `keep_daily n` / `keep_weekly n` / `keep_monthly n`: walking newest to oldest,
     the newest backup of each calendar day / ISO week / month (in the policy's time
     zone), for the n most recent periods that have a backup.
   The rest are deleted.
4. Protected backups are kept whatever the rules say: the project's newest completed
   backup of any type (so a project never loses its last good backup), and any backup a
   pending or running restore reads from.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

AUTOMATIC = "automatic"
COMPLETED = "completed"


@dataclass(frozen=True)
class Rule:
    keep_last: int | None = None
    keep_daily: int | None = None
    keep_weekly: int | None = None
    keep_monthly: int | None = None
    max_age_days: int | None = None

    @property
    def has_keep_rule(self) -> bool:
        return any(
            n is not None
            for n in (self.keep_last, self.keep_daily, self.keep_weekly, self.keep_monthly)
        )


@dataclass(frozen=True)
class BackupInfo:
    id: int
    created_at: datetime
    type: str = AUTOMATIC
    status: str = COMPLETED
    policy_id: str | None = None


@dataclass
class Plan:
    #: backup id -> why it is kept (rule names, "protected: ...")
    keep: dict[int, list[str]] = field(default_factory=dict)
    #: backup id -> why it goes ("max_age", "no keep rule selects it")
    delete: dict[int, str] = field(default_factory=dict)


def _newest_first(items: Iterable[BackupInfo]) -> list[BackupInfo]:
    return sorted(items, key=lambda b: (b.created_at, b.id), reverse=True)


def newest_completed(backups: Iterable[BackupInfo]) -> int | None:
    done = _newest_first(b for b in backups if b.status == COMPLETED)
    return done[0].id if done else None


def buckets(tz: ZoneInfo) -> dict[str, Callable[[BackupInfo, int], Hashable]]:
    """The period each keep rule groups by; `last` makes every backup its own period."""

    def local(b: BackupInfo) -> datetime:
        return b.created_at.astimezone(tz)

    return {
        "last": lambda b, n: n,
        "daily": lambda b, n: local(b).date(),
        "weekly": lambda b, n: local(b).isocalendar()[:2],
        "monthly": lambda b, n: (local(b).year, local(b).month),
    }


def plan(
    backups: Sequence[BackupInfo],
    policy_id: str,
    rule: Rule,
    *,
    now: datetime,
    tz: ZoneInfo,
    in_use: Iterable[int] = (),
) -> Plan:
    """Decide for each candidate of `policy_id` among all of the project's `backups`."""
    out = Plan()
    candidates = _newest_first(
        b
        for b in backups
        if b.policy_id == policy_id and b.type == AUTOMATIC and b.status == COMPLETED
    )
    protected: dict[int, str] = dict.fromkeys(in_use, "protected: a restore is reading it")
    newest = newest_completed(backups)
    if newest is not None:
        protected[newest] = "protected: the project's newest completed backup"

    young = candidates
    if rule.max_age_days is not None:
        limit = now - timedelta(days=rule.max_age_days)
        young = [b for b in candidates if b.created_at >= limit]
        for b in candidates:
            if b.created_at < limit:
                out.delete[b.id] = "max_age"

    if not rule.has_keep_rule:
        for b in young:
            out.keep[b.id] = ["no keep rule: kept within max_age"]
    else:
        counts = {
            "last": rule.keep_last,
            "daily": rule.keep_daily,
            "weekly": rule.keep_weekly,
            "monthly": rule.keep_monthly,
        }
        for name, bucket in buckets(tz).items():
            wanted = counts[name]
            if not wanted:
                continue
            kept = 0
            last: Hashable = object()
            for position, b in enumerate(young):
                if kept >= wanted:
                    break
                period = bucket(b, position)
                if period != last:
                    out.keep.setdefault(b.id, []).append(f"keep_{name}")
                    last = period
                    kept += 1
        for b in young:
            if b.id not in out.keep:
                out.delete[b.id] = "no keep rule selects it"

    for backup_id, reason in protected.items():
        if backup_id in out.delete:
            del out.delete[backup_id]
            out.keep[backup_id] = []
        if backup_id in out.keep:
            out.keep[backup_id].append(reason)
    return out
