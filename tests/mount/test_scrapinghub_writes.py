"""Writes through a real mount: collections, frontier and job tags of the emulator.

Results are checked with the official `scrapinghub` client, the emulator's request log
and the daemon's journal; faults are injected into the emulator. Demo seed: project 101
has stores `s/prices`, `vs/history`, `cs/sessions`; project 102 a frontier `products`.
"""

import errno
import json
import os
import signal
import subprocess
import threading

import pytest
import requests
from scrapinghub import ScrapinghubClient

from backends.scrapinghub.emulator import DEMO_APIKEY, create_server
from hubfs.daemon import read_state
from hubfs.emulation import start_in_thread
from hubfs.fuse.mount import is_mounted
from tests.support import (Mount, hubfs, pending_in, requires_fuse, scrapinghub_remote, wait_until,
                           write_config)

pytestmark = [requires_fuse, pytest.mark.mount]

FAST = {"retries": 3, "retry_backoff": 0.05, "timeout": 5}


@pytest.fixture
def emulator():
    with start_in_thread(create_server(data="demo")) as handle:
        yield handle


@pytest.fixture
def client(emulator):
    return ScrapinghubClient(DEMO_APIKEY, dash_endpoint=emulator.url + "api/", endpoint=emulator.url)


@pytest.fixture
def config(emulator, tmp_path):
    return write_config(tmp_path, {"zyte": scrapinghub_remote(emulator.url, DEMO_APIKEY)}, general=FAST)


@pytest.fixture
def mount(config, tmp_path):
    with Mount(tmp_path, config) as live:
        yield live


def at(mount, *parts):
    return os.path.join(mount.path, "zyte", *parts)


def posts(emulator, prefix):
    made = requests.get(emulator.url + "__emulator__/requests", timeout=5).json()
    return [r for r in made if r["method"] in ("POST", "DELETE") and r["path"].startswith(prefix)]


def write(path, data, mode="wb"):
    """open, write, close; returns the errno of the first failing step, or 0."""
    try:
        with open(path, mode) as fh:
            fh.write(data)
    except OSError as exc:
        return exc.errno
    return 0


def test_value_written_is_in_the_store_and_reads_back(mount, client):
    path = at(mount, "101", "collections", "prices", "new-key")
    assert write(path, b'{"price": 12.5, "name": "Caf\xc3\xa9"}\n') == 0
    assert client.get_project(101).collections.get_store("prices").get("new-key") == {
        "price": 12.5, "name": "Café"}
    with open(path, "rb") as fh:
        assert json.loads(fh.read()) == {"price": 12.5, "name": "Café"}
    assert "new-key" in os.listdir(at(mount, "101", "collections", "prices"))


@pytest.mark.parametrize("content,reason", [
    (b"not json", "JSON"),
    (b"[1, 2]", "object"),
    (b'{"x": "' + b"y" * (1024 * 1024 + 10) + b'"}', "1048576"),
])
def test_bad_values_fail_at_close_with_einval_and_send_nothing(mount, emulator, content, reason):
    path = at(mount, "101", "collections", "prices", "bad")
    assert write(path, content) == errno.EINVAL
    assert posts(emulator, "/collections/101/") == []
    line = [l for l in mount.log().splitlines() if "/zyte/101/collections/prices/bad" in l]
    assert len(line) == 1 and reason in line[0] and "EINVAL" in line[0]


def test_rm_deletes_and_mkdir_makes_a_store(mount, client):
    store_dir = at(mount, "101", "collections", "prices")
    key = sorted(os.listdir(store_dir))[0]
    os.unlink(os.path.join(store_dir, key))
    assert key not in os.listdir(store_dir)
    with pytest.raises(Exception):
        client.get_project(101).collections.get_store("prices").get(key)
    os.mkdir(at(mount, "101", "collections", "fresh"))
    assert write(at(mount, "101", "collections", "fresh", "k1"), b'{"v": 1}') == 0
    assert client.get_project(101).collections.get_store("fresh").get("k1") == {"v": 1}


def test_cp_r_and_jl_restore_set_every_key(mount, client, tmp_path):
    source = tmp_path / "values"
    source.mkdir()
    for number in range(200):
        (source / f"item{number:03d}").write_text(json.dumps({"n": number}))
    target = at(mount, "101", "collections", "copied")
    subprocess.run(["cp", "-r", str(source), target], check=True)
    store = client.get_project(101).collections.get_store("copied")
    assert store.count() == 200 and store.get("item123") == {"n": 123}

    backup = tmp_path / "backup.jl"
    backup.write_text("".join(json.dumps({"_key": f"k{n:05d}", "value": {"n": n}}) + "\n"
                              for n in range(3000)))
    subprocess.run(["cp", str(backup), at(mount, "101", "collections", "restored.jl")], check=True)
    restored = client.get_project(101).collections.get_store("restored")
    assert restored.count() == 3000 and restored.get("k02999") == {"n": 2999}
    with open(at(mount, "101", "collections", "restored.jl"), "rb") as fh:
        lines = fh.read().splitlines()
    assert len(lines) == 3000 and json.loads(lines[0]) == {"_key": "k00000", "value": {"n": 0}}


def test_failed_send_is_eio_kept_and_sent_after_remount(emulator, client, config, tmp_path):
    emulator.server.faults.add(method="POST", path=r"^/collections/101/s/prices$", status=503, times=-1)
    with Mount(tmp_path, config) as first:
        path = at(first, "101", "collections", "prices", "kept")
        assert write(path, b'{"kept": true}') == errno.EIO
        status = hubfs("status").stdout
        assert "pending /zyte/101/collections/prices/kept" in status
        emulator.server.faults.clear()
        # Leave it to the next mount: stop this daemon without letting it drain.
        os.kill(read_state(first.path)["pid"], signal.SIGKILL)
        wait_until(lambda: not os.path.exists(f"/proc/{read_state(first.path)['pid']}")
                   if read_state(first.path) else True, timeout=5)
        subprocess.run(["fusermount3", "-uz", first.path], capture_output=True)
    with Mount(tmp_path, config):
        assert wait_until(lambda: _get(client, "prices", "kept") == {"kept": True}, timeout=15)
    assert pending_in(tmp_path / "cache", config) == []


def _get(client, store, key):
    try:
        return client.get_project(101).collections.get_store(store).get(key)
    except Exception:
        return None


def test_sigkill_during_a_big_restore_loses_no_key(emulator, client, config, tmp_path):
    backup = tmp_path / "big.jl"
    backup.write_text("".join(json.dumps({"_key": f"b{n:06d}", "value": {"n": n}}) + "\n"
                              for n in range(20_000)))
    # Slow batch sends, so the daemon dies while the restore is being sent.
    emulator.server.faults.add(method="POST", path=r"^/collections/101/s/big$", delay=0.5, times=-1)
    mount = Mount(tmp_path, config)
    mount.__enter__()
    try:
        spool_dir = os.path.join(mount.cache_dir, "spool")
        copier = threading.Thread(target=lambda: subprocess.run(
            ["cp", str(backup), at(mount, "101", "collections", "big.jl")], capture_output=True))
        copier.start()
        assert wait_until(lambda: any(n.endswith(".json") for n in os.listdir(spool_dir)), timeout=20)
        assert wait_until(lambda: len(posts(emulator, "/collections/101/s/big")) >= 1, timeout=20)
        os.kill(read_state(mount.path)["pid"], signal.SIGKILL)
        copier.join(timeout=30)
    finally:
        subprocess.run(["fusermount3", "-uz", mount.path], capture_output=True)
    assert not is_mounted(mount.path)
    assert _count(client, "big") < 20_000  # the kill really came mid-restore
    emulator.server.faults.clear()
    with Mount(tmp_path, config):
        assert wait_until(lambda: _count(client, "big") == 20_000, timeout=60)


def _count(client, store):
    try:
        return client.get_project(101).collections.get_store(store).count()
    except Exception:
        return 0


def test_concurrent_writers_to_different_keys_lose_nothing(mount, client):
    errors_seen = []

    def writer(worker):
        for number in range(10):
            code = write(at(mount, "101", "collections", "prices", f"w{worker}-{number}"),
                         json.dumps({"w": worker, "n": number}).encode())
            if code:
                errors_seen.append(code)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors_seen == []
    store = client.get_project(101).collections.get_store("prices")
    assert all(store.get(f"w{w}-{n}") == {"w": w, "n": n} for w in range(12) for n in range(10))


def test_frontier_append_new_slot_and_delete(mount, client):
    frontier = at(mount, "102", "frontier", "products")
    slots = os.listdir(frontier)
    assert "example.com.jl" in slots
    with open(os.path.join(frontier, "example.com.jl"), "a") as fh:
        fh.write('{"fp": "/added/1"}\n{"fp": "/added/2", "qdata": {"depth": 2}}\n')
    hcf = client.get_project(102).frontiers.get("products")
    queued = [fp for batch in hcf.get("example.com").q.iter() for fp, _ in batch["requests"]]
    assert "/added/1" in queued and "/added/2" in queued
    assert write(os.path.join(frontier, "new-slot.jl"), b'{"fp": "/n/1"}\n', "ab") == 0
    assert "new-slot" in hcf.list()
    os.unlink(os.path.join(frontier, "new-slot.jl"))
    assert "new-slot" not in hcf.list()
    assert write(os.path.join(frontier, "example.com.jl"), b"no json\n", "ab") == errno.EINVAL


def test_tags_file_updates_the_job_tags(mount, client):
    tags = at(mount, "101", "spiders", "books", "1", "tags")
    with open(tags) as fh:
        assert fh.read().split() == ["weekly"]
    assert write(tags, b"weekly\nchecked\n") == 0
    assert sorted(client.get_job("101/1/1").metadata.get("tags")) == ["checked", "weekly"]
    assert write(tags, b"checked\n") == 0
    assert client.get_job("101/1/1").metadata.get("tags") == ["checked"]


def test_tools_that_set_times_and_modes_succeed(mount, client, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    for name in ("a", "b"):
        (source / name).write_text(json.dumps({"file": name}))
    target = at(mount, "101", "collections", "synced")
    os.mkdir(target)
    subprocess.run(["cp", "-p", str(source / "a"), os.path.join(target, "a")], check=True)
    subprocess.run(["touch", os.path.join(target, "a")], check=True)
    subprocess.run(["rsync", "-a", str(source) + "/", target + "/"], check=True)
    store = client.get_project(101).collections.get_store("synced")
    assert store.get("a") == {"file": "a"} and store.get("b") == {"file": "b"}
    assert not [k for k in (r["_key"] for r in store.iter()) if k.startswith(".")]


def test_spool_full_is_enospc_at_write(emulator, tmp_path):
    config = write_config(tmp_path, {"zyte": scrapinghub_remote(emulator.url, DEMO_APIKEY)},
                          general={"spool_max_size": "64K"})
    with Mount(tmp_path, config) as live:
        with pytest.raises(OSError) as raised:
            with open(at(live, "101", "collections", "prices", "huge"), "wb", buffering=0) as fh:
                for _ in range(20):
                    fh.write(b"x" * 8192)
        assert raised.value.errno == errno.ENOSPC


def test_read_only_mount_refuses_writes_at_open(config, tmp_path):
    with Mount(tmp_path, config, "--read-only") as live:
        with pytest.raises(OSError) as raised:
            open(at(live, "101", "collections", "prices", "x"), "wb")
        assert raised.value.errno == errno.EROFS


def test_failed_batch_of_a_restore_is_eio_and_sent_after_remount(emulator, client, config, tmp_path):
    backup = tmp_path / "restore.jl"
    backup.write_text("".join(json.dumps({"_key": f"r{n:05d}", "value": {"n": n}}) + "\n"
                              for n in range(5000)))
    # The third batch POST fails for good: the restore cannot complete in this mount.
    emulator.server.faults.add(method="POST", path=r"^/collections/101/s/partial$", status=500,
                               skip=2, times=-1)
    with Mount(tmp_path, config) as first:
        result = subprocess.run(["cp", str(backup), at(first, "101", "collections", "partial.jl")],
                                capture_output=True, text=True)
        assert result.returncode != 0 and "Input/output error" in result.stderr
        assert "pending /zyte/101/collections/partial.jl" in hubfs("status").stdout
        os.kill(read_state(first.path)["pid"], signal.SIGKILL)  # no chance to resend here
        subprocess.run(["fusermount3", "-uz", first.path], capture_output=True)
    emulator.server.faults.clear()
    with Mount(tmp_path, config):
        assert wait_until(lambda: _count(client, "partial") == 5000, timeout=30)


def test_full_disk_under_the_spool_is_enospc_at_write(emulator, tmp_path):
    cache = tmp_path / "small"
    cache.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(cache)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        config = write_config(tmp_path, {"zyte": scrapinghub_remote(emulator.url, DEMO_APIKEY)},
                              general={"spool_min_free": "128K"})
        mount = Mount(tmp_path, config)
        mount.args[mount.args.index("--cache-dir") + 1] = str(cache)
        with mount as live:
            with pytest.raises(OSError) as raised:
                with open(at(live, "101", "collections", "prices", "huge"), "wb", buffering=0) as fh:
                    for _ in range(200):
                        fh.write(b"x" * 8192)
            assert raised.value.errno == errno.ENOSPC
    finally:
        subprocess.run(["umount", "-l", str(cache)], capture_output=True)


def test_umount_waits_for_pending_sends_and_says_which(emulator, client, config, tmp_path):
    mount = Mount(tmp_path, config)
    with mount as live:
        emulator.server.faults.add(method="POST", path=r"^/collections/101/s/prices$",
                                   status=503, times=-1)
        assert write(at(live, "101", "collections", "prices", "late"), b'{"late": 1}') == errno.EIO
        emulator.server.faults.clear()
        # The service is back but slow: the send made while unmounting takes a while.
        emulator.server.faults.add(method="POST", path=r"^/collections/101/s/prices$",
                                   delay=2.5, times=-1)
        result = hubfs("umount", live.path)
        assert "sending 1 pending file(s): /zyte/101/collections/prices/late" in result.stderr
    assert _get(client, "prices", "late") == {"late": 1}
    assert pending_in(tmp_path / "cache", config) == []


@pytest.mark.parametrize("shell", ["bash", "dash"])
def test_tags_written_with_a_shell_redirect_replace_the_job_tags(mount, client, shell):
    tags = at(mount, "101", "spiders", "books", "3", "tags")
    subprocess.run([shell, "-c", f"printf 'a\\nb\\n' > '{tags}'"], check=True, timeout=60)
    assert client.get_job("101/1/3").metadata.get("tags") == ["a", "b"]
    subprocess.run([shell, "-c", f"printf 'b\\n' > '{tags}'"], check=True, timeout=60)
    assert client.get_job("101/1/3").metadata.get("tags") == ["b"]
    # An O_TRUNC with nothing written (`: > tags`) is sent at the last close.
    subprocess.run([shell, "-c", f": > '{tags}'"], check=True, timeout=60)
    assert wait_until(lambda: not client.get_job("101/1/3").metadata.get("tags"), timeout=10)


def test_keys_of_a_restore_are_visible_at_once(mount, client, tmp_path):
    store = at(mount, "101", "collections", "prices")
    assert "sku-0001" in os.listdir(store)  # the store's listing is cached now
    backup = tmp_path / "more.jl"
    backup.write_text("".join(json.dumps({"_key": f"restored-{n}", "value": {"n": n}}) + "\n"
                              for n in range(5)))
    subprocess.run(["cp", str(backup), at(mount, "101", "collections", "prices.jl")], check=True,
                   timeout=60)
    assert os.path.exists(os.path.join(store, "restored-3"))
    assert "restored-4" in os.listdir(store)


def _restart(handle):
    """The same service (same state and port) after a crash: a new server process stand-in."""
    from hubfs.emulation import EmulatorServer

    old = handle.server
    server = EmulatorServer(old.router, port=old.port, auth=old.auth, name=old.name,
                            not_found=old.not_found)
    server.state, server.apikey = old.state, old.apikey
    return start_in_thread(server)


def test_service_killed_in_the_middle_of_a_restore_loses_no_key(tmp_path):
    first = start_in_thread(create_server(data="demo"))
    config = write_config(tmp_path, {"zyte": scrapinghub_remote(first.url, DEMO_APIKEY)},
                          general=dict(FAST, timeout=2))
    backup = tmp_path / "killed.jl"
    backup.write_text("".join(json.dumps({"_key": f"k{n:06d}", "value": {"n": n}}) + "\n"
                              for n in range(8_000)))
    first.server.faults.add(method="POST", path=r"^/collections/101/s/killed$", delay=0.3, times=-1)
    with Mount(tmp_path, config) as live:
        result = {}
        thread = threading.Thread(target=lambda: result.update(cp=subprocess.run(
            ["cp", str(backup), at(live, "101", "collections", "killed.jl")],
            capture_output=True, text=True, timeout=120)))
        thread.start()
        assert wait_until(lambda: len([r for r in first.server.requests.entries()
                                       if r["method"] == "POST" and "killed" in r["path"]]) >= 1,
                          timeout=30)
        first.stop()  # the service dies mid-restore: later batches find nobody
        thread.join(timeout=120)
        assert result["cp"].returncode != 0 and "Input/output error" in result["cp"].stderr
        pending = pending_in(tmp_path / "cache", config)
        assert len(pending) == 1 and "killed.jl" in pending[0]
        with _restart(first) as second:  # back up: the resend loop finishes the restore
            store = ScrapinghubClient(DEMO_APIKEY, dash_endpoint=second.url + "api/",
                                      endpoint=second.url).get_project(101).collections.get_store("killed")
            assert wait_until(lambda: _safe_count(store) == 8_000, timeout=90)
            assert wait_until(lambda: pending_in(tmp_path / "cache", config) == [], timeout=30)


def _safe_count(store):
    try:
        return store.count()
    except Exception:
        return 0
