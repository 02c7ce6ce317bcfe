"""vedit.streams: read-ahead, write-behind and alternating worker threads."""
from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

from vedit.errors import MediaError
from vedit.streams import ThreadedWriter, alternate, prefetch


def test_prefetch_keeps_order_maps_and_reraises():
    assert list(prefetch(range(50), depth=2, fn=lambda x: x * x)) == [x * x for x in range(50)]

    def bad():
        yield 1
        raise MediaError("decoder broke")

    it = prefetch(bad())
    assert next(it) == 1
    with pytest.raises(MediaError, match="decoder broke"):
        next(it)


def test_prefetch_stops_its_producer_when_closed_early():
    produced = []

    def endless():
        i = 0
        while True:
            produced.append(i)
            yield i
            i += 1

    before = threading.active_count()
    it = prefetch(endless(), depth=2)
    assert [next(it) for _ in range(3)] == [0, 1, 2]
    it.close()
    assert threading.active_count() <= before
    n = len(produced)
    assert n <= 3 + 2 + 2  # consumed + queue depth + one in hand, then it stopped
    assert len(produced) == n


def test_prefetch_stops_nested_threads_when_consumer_quits():
    before = threading.active_count()
    outer = prefetch(prefetch(iter(range(1000)), depth=2), depth=2)
    assert next(outer) == 0
    outer.close()
    for _ in range(50):
        if threading.active_count() <= before:
            break
        time.sleep(0.05)
    assert threading.active_count() <= before


def test_threaded_writer_failure_leaves_nothing(tmp_path):
    from vedit.io import open_writer

    out = tmp_path / "o.mp4"
    with pytest.raises(Exception):
        with open_writer(str(out), 25, (64, 48)) as wr0:
            with ThreadedWriter(wr0) as wr:
                wr.write(np.zeros((48, 64, 3), np.uint8))
                wr.write(np.zeros((40, 64, 3), np.uint8))  # wrong size: the writer thread raises
                for _ in range(20):
                    wr.write(np.zeros((48, 64, 3), np.uint8))
    assert os.listdir(tmp_path) == []
    with open_writer(str(out), 25, (64, 48)) as wr0:
        with ThreadedWriter(wr0) as wr:
            for i in range(5):
                wr.write(np.full((48, 64, 3), 40 * i, np.uint8))
    assert out.exists() and wr0.count == 5


def test_alternate_keeps_order_and_each_worker_sees_every_other_item():
    seen: dict[int, list[int]] = {0: [], 1: []}

    def work(k):
        def fn(x):
            seen[k].append(x)
            return 10 * x + k
        return fn

    assert list(alternate(range(9), (work(0), work(1)), depth=3)) == [10 * x + x % 2 for x in range(9)]
    assert seen == {0: [0, 2, 4, 6, 8], 1: [1, 3, 5, 7]}
