"""`hubfs ls` and `hubfs cat` reach the same tree as the mount, without FUSE."""

import os
import subprocess
import sys
import tomllib

from tests.support import REPO, hubfs, official_export, wait_until


def test_ls_walks_the_tree(sh_config):
    config = sh_config
    assert hubfs("ls", "--config", config, "zyte:").stdout.split() == ["101/", "102/", "103/"]
    assert hubfs("ls", "--config", config, "zyte:101/spiders/books").stdout.split()[:2] == ["6/", "5/"]
    files = hubfs("ls", "--config", config, "zyte:101/spiders/books/2").stdout.split()
    assert "items.jl" in files and "log.txt" in files


def test_cat_matches_official_export(sh_config, sh_emulator):
    expected = official_export(sh_emulator.url, "101/1/4").decode()
    assert hubfs("cat", "--config", sh_config, "zyte:101/spiders/books/4/items.jl").stdout == expected


def test_missing_path_and_bad_remote_are_clear(sh_config):
    config = sh_config
    result = hubfs("cat", "--config", config, "zyte:101/spiders/nope/1/items.jl", check=False)
    assert result.returncode == 1 and "no spider 'nope'" in result.stderr
    result = hubfs("ls", "--config", config, "other:", check=False)
    assert result.returncode == 2 and "no remote 'other'" in result.stderr


def test_emulate_writes_valid_toml_to_stdout_and_prose_to_stderr(tmp_path):
    """`hubfs emulate TYPE > remote.toml` gives a config that mounts the emulator."""
    path = tmp_path / "hubfs.toml"
    with open(path, "w") as out:
        process = subprocess.Popen([sys.executable, "-m", "hubfs", "emulate", "scrapinghub", "--port", "0"],
                                   stdout=out, stderr=subprocess.PIPE, text=True, cwd=REPO)
    try:
        assert "listening on" in process.stderr.readline()
        assert wait_until(lambda: "storage_url" in path.read_text(), timeout=20)
        os.chmod(path, 0o600)
        parsed = tomllib.loads(path.read_text())  # nothing but TOML on stdout
        [remote] = parsed["remotes"]
        listing = hubfs("ls", "--config", str(path), f"{remote}:").stdout
        assert listing.split() == ["101/", "102/", "103/"]
    finally:
        process.terminate()
        process.wait(timeout=10)
