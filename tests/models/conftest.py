"""Model discovery reads $VEDIT_HOME, $VEDIT_MODEL_DIR and the HF cache: every
test here runs with them isolated, and tiny models on one torch thread."""
import pytest


@pytest.fixture(autouse=True)
def _isolated(isolated_home, one_torch_thread):
    return isolated_home
