"""RecentLog: the bounded log simulators, links and the writer keep."""

from __future__ import annotations

import pytest

from massager_ctl.core.recent import RecentLog


def test_keeps_the_newest_within_a_quarter_more_and_counts_all():
    log: RecentLog[int] = RecentLog(8)
    for i in range(1000):
        log.append(i)
        assert len(log) <= 10
    assert log.total == 1000
    assert log[-1] == 999 and log == list(range(1000 - len(log), 1000))
    assert len(log) >= 8


def test_since_gives_what_came_after_a_count():
    log: RecentLog[int] = RecentLog(4)
    for i in range(3):
        log.append(i)
    mark = log.total
    assert log.since(mark) == []
    log.append(3)
    log.append(4)
    assert log.since(mark) == [3, 4]
    for i in range(5, 50):
        log.append(i)
    assert log.since(mark) == list(log)  # more came than is kept: what is kept


def test_refuses_to_keep_nothing():
    with pytest.raises(ValueError):
        RecentLog(0)
