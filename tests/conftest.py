"""Test-wide guards: no traffic leaves the loopback interface."""

import socket

import pytest

_real_connect = socket.socket.connect


def _loopback_only(self, address):
    if self.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        if not (host.startswith("127.") or host in ("::1", "localhost")):
            raise AssertionError(f"test tried to reach {host}: only loopback is allowed")
    return _real_connect(self, address)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    monkeypatch.setattr(socket.socket, "connect", _loopback_only)


@pytest.fixture(scope="module")
def sh_emulator():
    """A Scrapinghub emulator with the demo data, shared by one test module."""
    from backends.scrapinghub.emulator import create_server
    from hubfs.emulation import start_in_thread

    with start_in_thread(create_server(data="demo")) as handle:
        yield handle


@pytest.fixture
def sh_clean(sh_emulator):
    """`sh_emulator` with no fault rules and an empty request log."""
    from tests.support import no_faults

    with no_faults(sh_emulator) as handle:
        yield handle


@pytest.fixture(scope="module")
def sh_config(sh_emulator, tmp_path_factory):
    """A 0600 config with one remote, `zyte`, pointing at `sh_emulator`."""
    from backends.scrapinghub.emulator import DEMO_APIKEY
    from tests.support import scrapinghub_remote, write_config

    return write_config(tmp_path_factory.mktemp("cfg"),
                        {"zyte": scrapinghub_remote(sh_emulator.url, DEMO_APIKEY)})
