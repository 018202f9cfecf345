"""Fixtures of the Python-API tests: a Scrapinghub emulator and a config whose cache
directory is private to each test (so "rendered once" is observable per test)."""

import pytest
import requests

from tests.support import scrapinghub_remote, write_config


@pytest.fixture
def emu(sh_clean):
    requests.delete(sh_clean.url + "__emulator__/requests", timeout=5).raise_for_status()
    return sh_clean


@pytest.fixture
def config(emu, tmp_path):
    """A 0600 config with the remote `zyte` on the emulator and a fresh cache directory;
    few, fast retries so fault tests end quickly."""
    from backends.scrapinghub.emulator import DEMO_APIKEY

    return write_config(tmp_path,
                        {"zyte": scrapinghub_remote(emu.url, DEMO_APIKEY)},
                        general={"cache_dir": str(tmp_path / "cache"), "retries": 2,
                                 "retry_backoff": 0.01})


def logged(emu, prefix="", method=None):
    entries = requests.get(emu.url + "__emulator__/requests", timeout=5).json()
    return [e for e in entries if e["path"].startswith(prefix)
            and (method is None or e["method"] == method)]
