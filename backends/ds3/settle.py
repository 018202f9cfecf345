"""Run sends in parallel and return only once every one of them has ended.

`hubfs.parallel.run_all` raises at the first failure while sends already started go on
in the background; for uploads that is a race: a blob or part still being sent by a
failed commit could land after the next attempt started and confuse it (a job completed
under it). `settle` runs the same calls through `hubfs.parallel.ordered_map` but waits
for all of them, then raises the first failure in input order.
"""

from hubfs.parallel import ordered_map


def settle(fn, items, in_flight):
    def guarded(item):
        try:
            fn(item)
        except BaseException as exc:  # handed back, raised below once all have ended
            return exc
        return None

    failures = [exc for exc in ordered_map(guarded, items, in_flight) if exc is not None]
    if failures:
        raise failures[0]
