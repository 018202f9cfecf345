"""Fixture names the backend tests use: `emulator` (module-wide Scrapinghub emulator)
and `emu` (the same, with faults and the request log cleared for each test)."""

import pytest


@pytest.fixture(scope="module")
def emulator(sh_emulator):
    return sh_emulator


@pytest.fixture
def emu(sh_clean):
    return sh_clean
