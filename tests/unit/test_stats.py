"""hubfs.stats: counters per remote, activities with progress, steady progress lines."""

import json
import logging
import os
import threading

from hubfs import stats


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_counters_errors_and_activities_in_a_snapshot():
    s = stats.Stats()
    s.count("zyte", "requests", 3)
    s.count("zyte", "bytes_fetched", 1000)
    s.count("zyte", "waits")  # a counter the HTTP layer adds is kept too
    s.error("zyte", TimeoutError())
    s.error("zyte", "Transient")
    s.error("zyte", "Transient")
    with s.activity("render", "zyte", "/zyte/1/items.jl", expected=10):
        s.report(records=4, nbytes=200)
        live = s.snapshot()
    assert live["remotes"]["zyte"]["requests"] == 3
    assert live["remotes"]["zyte"]["waits"] == 1
    assert live["remotes"]["zyte"]["errors"] == 3
    assert live["remotes"]["zyte"]["errors_by_class"] == {"TimeoutError": 1, "Transient": 2}
    [activity] = live["activities"]
    assert (activity["records_done"], activity["records_expected"], activity["bytes_done"]) == (4, 10, 200)
    assert s.snapshot()["activities"] == []  # gone once done
    s.report(records=1)  # outside an activity: nothing to report to, no error


def test_counting_from_many_threads_loses_nothing():
    s = stats.Stats()

    def work():
        for _ in range(10_000):
            s.count("r", "requests")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert s.snapshot()["remotes"]["r"]["requests"] == 40_000


def test_long_activities_log_progress_at_a_steady_pace(caplog):
    clock = Clock()
    s = stats.Stats(clock=clock)
    caplog.set_level(logging.INFO, logger="hubfs.progress")
    with s.activity("render", "zyte", "/zyte/900/spiders/bench/1/items.jl") as activity:
        s.log_progress()
        assert caplog.records == []  # young activities are quiet
        for second in range(1, 21):
            clock.now += 1
            activity.update(records=second * 50_000, expected=1_000_000, nbytes=10 << 20)
            s.log_progress()
    lines = [r.getMessage() for r in caplog.records]
    progress = [line for line in lines if "so far" in line]
    assert len(progress) == 4  # at 5, 10, 15 and 20 seconds
    assert "250,000 of 1,000,000 records (25%)" in progress[0]
    assert lines[-1].endswith("done in 20.0s")


def test_publisher_writes_a_private_file_without_secrets(tmp_path):
    s = stats.Stats()
    s.count("zyte", "requests")
    path = str(tmp_path / "stats-x.json")
    publisher = stats.Publisher(path, extra=lambda: {"uploads_pending": 2}, stats=s).start()
    try:
        assert os.stat(path).st_mode & 0o777 == 0o600
        document = stats.read(path)
        assert document["remotes"]["zyte"]["requests"] == 1 and document["uploads_pending"] == 2
        assert json.loads(open(path).read())["updated"] > 0
    finally:
        publisher.stop()
    assert not os.path.exists(path)
