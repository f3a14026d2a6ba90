"""`handed_off`: items produced here, consumed in order by a second thread that never
outlives the call, whichever side fails."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from cloudbox.archive.handoff import handed_off


def _threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name == "archive-handoff"}


def test_every_item_is_consumed_in_order_by_another_thread() -> None:
    seen: list[int] = []
    consumers: set[int] = set()

    def consume(item: int) -> None:
        consumers.add(threading.get_ident())
        seen.append(item)

    handed_off(iter(range(1000)), consume)
    assert seen == list(range(1000))
    assert consumers and threading.get_ident() not in consumers
    assert not _threads()


def test_the_producer_runs_at_most_a_few_items_ahead() -> None:
    produced: list[int] = []
    release = threading.Event()
    lead: list[int] = []

    def items() -> Iterator[int]:
        for n in range(100):
            produced.append(n)
            yield n

    def consume(item: int) -> None:
        if item == 0:
            release.wait(0.5)  # the producer fills the queue meanwhile
            lead.append(len(produced))

    handed_off(items(), consume, depth=4)
    assert lead and lead[0] <= 4 + 2  # the queue, the item in hand, the one being put


def test_a_consumer_failure_stops_the_producer_and_is_raised_here() -> None:
    produced: list[int] = []

    def items() -> Iterator[int]:
        for n in range(10_000):
            produced.append(n)
            yield n

    def consume(item: int) -> None:
        if item == 3:
            raise ValueError("row 3 is bad")

    with pytest.raises(ValueError, match="row 3 is bad"):
        handed_off(items(), consume, depth=2)
    assert len(produced) < 100
    assert not _threads()


def test_a_producer_failure_is_raised_after_the_consumer_ended() -> None:
    seen: list[int] = []

    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise RuntimeError("database gone")

    with pytest.raises(RuntimeError, match="database gone"):
        handed_off(items(), seen.append)
    assert seen == [1, 2]
    assert not _threads()
