"""Spool.claim: one sender per journal entry across processes sharing a cache directory."""

import multiprocessing

from hubfs.cache.spool import Spool


def _try_claim(cache_dir, spool_id, results):
    with Spool(cache_dir).claim(spool_id) as mine:
        results.put(mine)


def test_a_claimed_entry_is_refused_to_another_process_until_released(tmp_path):
    spool = Spool(str(tmp_path))
    spool_id, _ = spool.new_file()
    results = multiprocessing.get_context("spawn").Queue()
    with spool.claim(spool_id) as mine:
        assert mine
        other = multiprocessing.get_context("spawn").Process(
            target=_try_claim, args=(str(tmp_path), spool_id, results))
        other.start()
        other.join(60)
        assert results.get(timeout=10) is False
    other = multiprocessing.get_context("spawn").Process(
        target=_try_claim, args=(str(tmp_path), spool_id, results))
    other.start()
    other.join(60)
    assert results.get(timeout=10) is True


def test_claiming_a_sent_entry_yields_false(tmp_path):
    spool = Spool(str(tmp_path))
    spool_id, _ = spool.new_file()
    spool.done(spool_id)
    with spool.claim(spool_id) as mine:
        assert mine is False
