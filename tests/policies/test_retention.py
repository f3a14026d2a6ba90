"""The retention rule of docs/automatic-backups.md, checked against a reference
implementation written differently (group, sort, take), over random histories
(hypothesis), plus table-driven cases that spell the rule out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloudbox.policies.retention import BackupInfo, Plan, Rule, plan

POLICY = "pol"
NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
ZONES = [ZoneInfo("UTC"), ZoneInfo("Europe/Berlin"), ZoneInfo("America/Los_Angeles")]


def reference(
    backups: list[BackupInfo], rule: Rule, now: datetime, tz: ZoneInfo, in_use: set[int]
) -> set[int]:
    """The ids the rule keeps, computed the plain way: per rule, group the eligible
    backups by period, keep the newest of each of the newest n periods."""
    candidates = [
        b
        for b in backups
        if b.policy_id == POLICY and b.type == "automatic" and b.status == "completed"
    ]
    if rule.max_age_days is not None:
        candidates = [
            b for b in candidates if b.created_at >= now - timedelta(days=rule.max_age_days)
        ]

    def key(b: BackupInfo) -> tuple[datetime, int]:
        return (b.created_at, b.id)

    kept: set[int] = set()
    if not any([rule.keep_last, rule.keep_daily, rule.keep_weekly, rule.keep_monthly]):
        kept = {b.id for b in candidates}
    else:
        if rule.keep_last:
            kept |= {b.id for b in sorted(candidates, key=key, reverse=True)[: rule.keep_last]}
        periods = {
            "daily": (rule.keep_daily, lambda d: d.date()),
            "weekly": (rule.keep_weekly, lambda d: tuple(d.isocalendar())[:2]),
            "monthly": (rule.keep_monthly, lambda d: (d.year, d.month)),
        }
        for n, period_of in periods.values():
            if not n:
                continue
            groups: dict[object, list[BackupInfo]] = {}
            for b in candidates:
                groups.setdefault(period_of(b.created_at.astimezone(tz)), []).append(b)
            newest_per_group = sorted((max(g, key=key) for g in groups.values()), key=key)
            kept |= {b.id for b in newest_per_group[-n:]}
    completed = [b for b in backups if b.status == "completed"]
    if completed:
        kept.add(max(completed, key=key).id)
    return kept | in_use


def _ids(p: Plan) -> tuple[set[int], set[int]]:
    return set(p.keep), set(p.delete)


# -- random histories ------------------------------------------------------------------

_kinds = st.sampled_from(
    [
        ("automatic", "completed", POLICY),
        ("automatic", "completed", POLICY),
        ("automatic", "completed", POLICY),
        ("automatic", "failed", POLICY),
        ("automatic", "creating", POLICY),
        ("automatic", "completed", "other-policy"),
        ("automatic", "completed", None),
        ("manual", "completed", None),
        ("manual", "completed", POLICY),  # a manual backup never belongs to a rule
        ("pre-restore", "completed", None),
    ]
)


@st.composite
def histories(draw: st.DrawFn) -> list[BackupInfo]:
    n = draw(st.integers(min_value=0, max_value=60))
    out = []
    for i in range(n):
        # minutes to ~400 days back, with many ties on days and some on instants
        age = draw(
            st.one_of(
                st.integers(min_value=0, max_value=600_000),
                st.sampled_from([0, 60, 1440, 1441, 10_080, 43_200]),
            )
        )
        kind, status, policy = draw(_kinds)
        out.append(
            BackupInfo(
                id=i + 1,
                created_at=NOW - timedelta(minutes=age),
                type=kind,
                status=status,
                policy_id=policy,
            )
        )
    return out


_count = st.one_of(st.none(), st.integers(min_value=1, max_value=8))
rules = st.builds(
    Rule,
    keep_last=_count,
    keep_daily=_count,
    keep_weekly=_count,
    keep_monthly=_count,
    max_age_days=st.one_of(st.none(), st.integers(min_value=1, max_value=400)),
)
PROPERTY = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(histories(), rules, st.sampled_from(ZONES), st.data())
def test_matches_the_reference(
    backups: list[BackupInfo], rule: Rule, tz: ZoneInfo, data: st.DataObject
) -> None:
    in_use = set(data.draw(st.sets(st.sampled_from([b.id for b in backups] or [0]), max_size=2)))
    in_use.discard(0)
    result = plan(backups, POLICY, rule, now=NOW, tz=tz, in_use=in_use)
    keep, delete = _ids(result)
    candidates = {
        b.id
        for b in backups
        if b.policy_id == POLICY and b.type == "automatic" and b.status == "completed"
    }
    # only the policy's completed automatic backups are ever deleted
    assert delete <= candidates
    # every candidate is decided exactly once
    assert keep & delete == set()
    assert candidates <= keep | delete
    # and exactly as the reference decides
    assert delete == candidates - reference(backups, rule, NOW, tz, in_use)


@PROPERTY
@given(histories(), rules, st.sampled_from(ZONES))
def test_never_deletes_the_newest_completed_backup(
    backups: list[BackupInfo], rule: Rule, tz: ZoneInfo
) -> None:
    completed = [b for b in backups if b.status == "completed"]
    result = plan(backups, POLICY, rule, now=NOW, tz=tz)
    if completed:
        newest = max(completed, key=lambda b: (b.created_at, b.id))
        assert newest.id not in result.delete
    manual = {b.id for b in backups if b.type != "automatic"}
    assert not manual & set(result.delete)


@PROPERTY
@given(histories(), rules, st.sampled_from(ZONES), st.integers(min_value=1, max_value=30))
def test_applying_as_backups_arrive_equals_applying_once(
    backups: list[BackupInfo], rule: Rule, tz: ZoneInfo, step_days: int
) -> None:
    """Retention runs after every backup; pruning incrementally over time must end where
    one evaluation of the whole history at the end does."""
    ordered = sorted(backups, key=lambda b: (b.created_at, b.id))
    alive: list[BackupInfo] = []
    for b in ordered:
        alive.append(b)
        result = plan(alive, POLICY, rule, now=b.created_at, tz=tz)
        alive = [a for a in alive if a.id not in result.delete]
    final = plan(alive, POLICY, rule, now=NOW, tz=tz)
    alive_ids = {a.id for a in alive} - set(final.delete)
    once = plan(ordered, POLICY, rule, now=NOW, tz=tz)
    assert alive_ids == {b.id for b in ordered} - set(once.delete)


# -- the rule spelled out --------------------------------------------------------------


def _daily_history(days: int, per_day: int = 2) -> list[BackupInfo]:
    """`per_day` backups a day (03:00 and 15:00 UTC), the newest yesterday 15:00."""
    out = []
    n = 0
    for day in range(days):
        for hour in (3, 15)[:per_day]:
            n += 1
            at = datetime(2026, 6, 29, hour, tzinfo=UTC) - timedelta(days=day)
            out.append(BackupInfo(id=n, created_at=at, policy_id=POLICY))
    return out


def _kept_dates(backups: list[BackupInfo], result: Plan) -> list[str]:
    by_id = {b.id: b for b in backups}
    return sorted(
        (by_id[i].created_at.strftime("%m-%d %H") for i in result.keep if i in by_id),
        reverse=True,
    )


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (Rule(keep_last=3), ["06-29 15", "06-29 03", "06-28 15"]),
        (Rule(keep_daily=3), ["06-29 15", "06-28 15", "06-27 15"]),
        (Rule(keep_last=1, keep_daily=2), ["06-29 15", "06-28 15"]),
        # ISO weeks: Mon 06-29; Sun 06-28 ends the week before, Sun 06-21 the one before
        (Rule(keep_weekly=3), ["06-29 15", "06-28 15", "06-21 15"]),
        (Rule(keep_monthly=2), ["06-29 15", "05-31 15"]),
        # max_age applies first: May's newest would be a monthly keep, but is too old
        (Rule(keep_monthly=3), ["06-29 15", "05-31 15"]),
        (Rule(keep_monthly=3, max_age_days=3), ["06-29 15"]),
        (Rule(max_age_days=2), ["06-29 15", "06-29 03", "06-28 15"]),
        # no rule: everything stays
        (Rule(), None),
    ],
)
def test_rules_on_a_daily_history(rule: Rule, expected: list[str] | None) -> None:
    backups = _daily_history(40)
    result = plan(backups, POLICY, rule, now=NOW, tz=ZoneInfo("UTC"))
    if expected is None:
        assert not result.delete
        return
    assert _kept_dates(backups, result) == expected


def test_periods_follow_the_policy_time_zone() -> None:
    """23:30 UTC on 06-28 is already 06-29 in Berlin: one day there, two in UTC."""
    backups = [
        BackupInfo(1, datetime(2026, 6, 28, 23, 30, tzinfo=UTC), policy_id=POLICY),
        BackupInfo(2, datetime(2026, 6, 29, 8, 0, tzinfo=UTC), policy_id=POLICY),
    ]
    utc = plan(backups, POLICY, Rule(keep_daily=5), now=NOW, tz=ZoneInfo("UTC"))
    berlin = plan(backups, POLICY, Rule(keep_daily=5), now=NOW, tz=ZoneInfo("Europe/Berlin"))
    assert set(utc.keep) == {1, 2}
    assert set(berlin.keep) == {2} and set(berlin.delete) == {1}


def test_newest_project_backup_and_backups_in_use_are_protected() -> None:
    old = NOW - timedelta(days=100)
    backups = [
        BackupInfo(1, old, policy_id=POLICY),
        BackupInfo(2, old + timedelta(days=1), policy_id=POLICY),
        BackupInfo(3, old - timedelta(days=1), type="manual", policy_id=None),
    ]
    result = plan(backups, POLICY, Rule(max_age_days=30), now=NOW, tz=ZoneInfo("UTC"), in_use={1})
    assert result.delete == {}
    assert "protected: the project's newest completed backup" in result.keep[2]
    assert "protected: a restore is reading it" in result.keep[1]
    # a newer manual backup takes over as the project's newest: the policy's may go
    backups.append(BackupInfo(4, NOW, type="manual", policy_id=None))
    result = plan(backups, POLICY, Rule(max_age_days=30), now=NOW, tz=ZoneInfo("UTC"))
    assert set(result.delete) == {1, 2}
