"""The one memory budget counts what memory holds (hubfs/cache/blocks.py).

Read-ahead keeps views of one buffer per run of blocks; a view kept after its neighbours
went still holds the whole buffer, so the budget must count the buffer, not the view."""

from hubfs.cache.blocks import BlockCache

UNIT = 1024


def run_of(blocks, fill=b"x"):
    """Views of one buffer of *blocks* units, as read-ahead keeps a run."""
    buffer = memoryview(bytearray(fill * (blocks * UNIT)))
    return [buffer[at * UNIT:(at + 1) * UNIT] for at in range(blocks)]


def test_plain_blocks_count_their_bytes():
    cache = BlockCache(budget=10 * UNIT)
    cache.put(("f", 1, 0), b"a" * UNIT, 0)
    cache.put(("f", 1, 1), memoryview(b"b" * UNIT), 0)  # a view of nothing larger
    assert cache.used == 2 * UNIT
    cache.discard(("f", 1, 0))
    assert cache.used == UNIT


def test_a_view_left_of_a_run_holds_the_whole_buffer():
    cache = BlockCache(budget=100 * UNIT)
    for index, view in enumerate(run_of(8)):
        cache.put(("f", 1, index), view, 0)
    assert cache.used == 8 * UNIT
    for index in range(7):  # the reader went past them
        cache.discard(("f", 1, index))
    assert cache.used == 8 * UNIT  # the last view keeps the 8 units alive
    assert bytes(cache.get(("f", 1, 7))) == b"x" * UNIT
    cache.discard(("f", 1, 7))
    assert cache.used == 0


def test_the_budget_evicts_whole_buffers():
    cache = BlockCache(budget=12 * UNIT)
    first = run_of(8, b"1")
    cache.put(("a", 1, 0), first[0], 0)  # one view kept of an 8-unit buffer
    assert cache.used == 8 * UNIT
    cache.put_run([(("b", 1, index), view) for index, view in enumerate(run_of(8, b"2"))], 0)
    assert cache.used <= 12 * UNIT  # the first buffer went, not a view of the second
    assert cache.get(("a", 1, 0)) is None
    assert cache.used == 8 * UNIT
    cache.drop_file("b")
    assert cache.used == 0


def test_a_run_is_counted_once_its_reservation_is_given_back():
    """Read-ahead reserves each block of a run before the request; the run's buffer is
    counted when all of them come back, so kept blocks of other files are not evicted
    for a moment's double count."""
    cache = BlockCache(budget=20 * UNIT)
    cache.put(("kept", 1, 0), b"k" * (4 * UNIT), 0)
    for _ in range(8):
        assert cache.reserve(UNIT)
    assert cache.used == 12 * UNIT
    cache.put_run([(("f", 1, index), view) for index, view in enumerate(run_of(8))], 8 * UNIT)
    assert cache.used == 12 * UNIT and cache.get(("kept", 1, 0)) is not None
