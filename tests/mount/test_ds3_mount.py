"""DS3 and S3 remotes through real FUSE mounts made with `hubfs mount`.

Each test runs against the emulator in DS3 mode (bulk jobs) and in S3 mode: `cat` and
`stat` of seeded objects, `cp -r`, `rsync -a` (twice: the second transfers nothing) and
`tar -x` into a bucket and back out byte-exact, mkdir/rmdir/rm/rm -r/mv.
"""

import errno
import filecmp
import hashlib
import os
import shutil
import subprocess

import pytest

from backends.ds3.emulator import JobSettings, create_server, remote_options
from backends.ds3.emulator.seed import binary, demo_objects
from hubfs.emulation import start_in_thread
from tests.support import Mount, requires_fuse, write_config

pytestmark = [requires_fuse, pytest.mark.mount]

FAST = {"retries": 3, "retry_backoff": 0.05, "timeout": 10}
MIB = 1024 * 1024


@pytest.fixture(params=["ds3", "s3"])
def emulator(request):
    settings = JobSettings(blob_size=MIB, chunk_blobs=4, retry_after=0)
    with start_in_thread(create_server("demo", mode=request.param, settings=settings)) as handle:
        yield handle


@pytest.fixture
def mount(emulator, tmp_path):
    config = write_config(tmp_path, {"store": remote_options(emulator.server)}, general=FAST)
    with Mount(tmp_path, config) as live:
        yield live


def at(mount, *parts):
    return os.path.join(mount.path, "store", *parts)


def make_tree(root):
    """A small tree with nested folders, an empty folder, odd names and a multi-blob file."""
    files = {
        "a.txt": b"alpha\n",
        "sub/b.bin": binary("b", 70_000),
        "sub/deeper/c.bin": binary("c", 2 * MIB + 11),
        "sub/with space & plus+.txt": b"odd name\n",
        "empty.txt": b"",
    }
    for rel, content in files.items():
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as out:
            out.write(content)
    os.makedirs(os.path.join(root, "sub", "nothing-here"))
    return files


def same_trees(left, right):
    compare = filecmp.dircmp(left, right)
    assert not compare.left_only and not compare.right_only and not compare.diff_files, \
        (compare.left_only, compare.right_only, compare.diff_files)
    _, mismatch, errors_ = filecmp.cmpfiles(left, right, compare.common_files, shallow=False)
    assert not mismatch and not errors_
    for sub in compare.common_dirs:
        same_trees(os.path.join(left, sub), os.path.join(right, sub))


def test_cat_and_stat_are_exact(mount, emulator):
    books = demo_objects()["books"]
    assert sorted(os.listdir(at(mount))) == ["books", "data"]
    assert sorted(os.listdir(at(mount, "books"))) == ["beowulf.txt", "empty", "folder", "sherlock_holmes.txt",
                                                      "tale_of_two_cities.txt", "ulysses.txt"]
    for key in ("beowulf.txt", "ulysses.txt", "folder/folder2/lesmis.txt"):
        path = at(mount, "books", *key.split("/"))
        st = os.stat(path)
        assert st.st_size == len(books[key])
        assert st.st_mtime == pytest.approx(emulator.state.store.get("books", key).mtime, abs=1e-3)
        with open(path, "rb") as fh:
            assert fh.read() == books[key]
    big = demo_objects()["data"]["blobs/three-mib.bin"]
    out = subprocess.run(["sha256sum", at(mount, "data", "blobs", "three-mib.bin")], capture_output=True,
                         text=True, check=True).stdout.split()[0]
    assert out == hashlib.sha256(big).hexdigest()
    with pytest.raises(FileNotFoundError):
        os.stat(at(mount, "books", "missing.txt"))
    with pytest.raises(FileNotFoundError):
        os.listdir(at(mount, "no-such-bucket"))


def test_cp_r_in_and_out(mount, tmp_path, emulator):
    source = tmp_path / "src"
    files = make_tree(str(source))
    subprocess.run(["cp", "-r", str(source), at(mount, "books", "copied")], check=True)
    stored = emulator.state.store.bucket("books").objects
    for rel, content in files.items():
        with open(stored["copied/" + rel].path, "rb") as fh:
            assert fh.read() == content
    assert "copied/sub/nothing-here/" in stored  # the empty folder exists on the service
    back = tmp_path / "back"
    subprocess.run(["cp", "-r", at(mount, "books", "copied"), str(back)], check=True)
    same_trees(str(source), str(back))


def test_rsync_twice_and_tar(mount, tmp_path):
    source = tmp_path / "src"
    make_tree(str(source))
    target = at(mount, "books", "synced")
    subprocess.run(["rsync", "-a", f"{source}/", target], check=True)
    out = tmp_path / "out"
    subprocess.run(["rsync", "-a", f"{target}/", str(out)], check=True)
    same_trees(str(source), str(out))
    again = subprocess.run(["rsync", "-a", "--itemize-changes", f"{source}/", target], check=True,
                           capture_output=True, text=True).stdout
    assert [line for line in again.splitlines() if not line.startswith(".d")] == []

    archive = tmp_path / "tree.tar"
    subprocess.run(["tar", "-cf", str(archive), "-C", str(source), "."], check=True)
    os.mkdir(at(mount, "books", "untarred"))
    subprocess.run(["tar", "-xf", str(archive), "-C", at(mount, "books", "untarred")], check=True)
    unpacked = tmp_path / "unpacked"
    os.mkdir(unpacked)
    subprocess.run(f"tar -cf - -C {at(mount, 'books', 'untarred')} . | tar -xf - -C {unpacked}",
                   shell=True, check=True)
    same_trees(str(source), str(unpacked))


def test_a_nightly_rsync_after_a_remount_sends_only_what_changed(emulator, tmp_path):
    """Times set by `rsync -a` outlive the mount (object stores keep only the upload time):
    the next night's `rsync -a` in a new mount sends nothing, and an object another
    client replaced since (same size, new bytes) is the only one sent again."""
    config = write_config(tmp_path, {"store": remote_options(emulator.server)}, general=FAST)
    source = tmp_path / "src"
    make_tree(str(source))
    changes = ["rsync", "-a", "--itemize-changes", f"{source}/"]

    def sent(mount):
        out = subprocess.run(changes + [at(mount, "books", "nightly")], check=True,
                             capture_output=True, text=True).stdout
        return sorted(line.split()[-1] for line in out.splitlines() if line.startswith(">f"))

    with Mount(tmp_path, config, name="first") as first:
        assert len(sent(first)) == 5
    with Mount(tmp_path, config, name="second") as second:
        assert sent(second) == []
        for rel in ("a.txt", "sub/b.bin"):
            st = os.stat(at(second, "books", "nightly", *rel.split("/")))
            assert st.st_mtime_ns == os.stat(source / rel).st_mtime_ns
    emulator.state.store.put_bytes("books", "nightly/a.txt", b"ALPHA\n")  # another client
    with Mount(tmp_path, config, name="third") as third:
        assert sent(third) == ["a.txt"]
        with open(at(third, "books", "nightly", "a.txt"), "rb") as fh:
            assert fh.read() == b"alpha\n"
    with Mount(tmp_path, config, name="fourth") as fourth:
        assert sent(fourth) == []


def test_mkdir_rm_and_rename(mount, emulator):
    books = at(mount, "books")
    os.mkdir(os.path.join(books, "made"))
    assert "made/" in emulator.state.store.bucket("books").objects
    with open(os.path.join(books, "made", "x.txt"), "wb") as fh:
        fh.write(b"x" * 1000)
    os.rename(os.path.join(books, "made", "x.txt"), os.path.join(books, "made", "y.txt"))
    objects = emulator.state.store.bucket("books").objects
    assert "made/y.txt" in objects and "made/x.txt" not in objects
    with open(os.path.join(books, "made", "y.txt"), "rb") as fh:
        assert fh.read() == b"x" * 1000
    os.remove(os.path.join(books, "made", "y.txt"))
    assert "made/y.txt" not in emulator.state.store.bucket("books").objects
    # Directories the service already had (not made by this mount, see the report).
    with pytest.raises(OSError) as caught:
        os.rmdir(at(mount, "books", "folder", "folder2"))
    assert caught.value.errno == errno.ENOTEMPTY
    os.rmdir(at(mount, "books", "empty"))
    assert "empty/" not in emulator.state.store.bucket("books").objects
    shutil.rmtree(at(mount, "books", "folder"))  # rm -r
    assert not any(k.startswith("folder/") for k in emulator.state.store.bucket("books").objects)
    assert not os.path.exists(at(mount, "books", "folder"))
