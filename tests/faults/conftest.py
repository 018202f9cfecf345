"""What every fault test shares: no fault rule outlives the test that injected it."""

import pytest

from tests.support import no_faults


@pytest.fixture(autouse=True)
def no_faults_left(request):
    """Each test starts and ends with no fault rules and an empty request log on its
    module's `emulator` (when the test uses one)."""
    if "emulator" not in request.fixturenames:
        yield
        return
    with no_faults(request.getfixturevalue("emulator")):
        yield
