"""pytest setup: import path, hypothesis profiles, per-test isolation of global torch state."""

import os
import sys
from pathlib import Path

import pytest
import torch

# Tests run from the repository root (`python -m pytest tests`); the package is installed editable,
# but make the checkout importable even when it is not, and make `common_utils` importable.
ROOT = Path(__file__).resolve().parents[1]
for p in (str(ROOT), str(Path(__file__).resolve().parent)):
    if p not in sys.path:
        sys.path.insert(0, p)

import torch_ext  # noqa: E402,F401  (loads the op library; an import failure should fail loudly)

from hypothesis import HealthCheck, settings  # noqa: E402

# CI: bounded and reproducible. `HYPOTHESIS_PROFILE=dev` (or `thorough`) explores more.
settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile("dev", max_examples=300, deadline=None, print_blob=True)
settings.register_profile("thorough", max_examples=3000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


# Under pytest-xdist, share the cores between the workers instead of oversubscribing them (OpenMP
# threads spinning on busy cores make each parallel op slow). test_thread_count_independent sets
# its own thread counts.
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
if _WORKERS > 1:
    torch.set_num_threads(max(1, (os.cpu_count() or 1) // _WORKERS))


@pytest.fixture(autouse=True)
def _isolate_torch_state():
    """Each test starts from the same seed and leaves the thread count and grad mode as it found them."""
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    grad_enabled = torch.is_grad_enabled()
    yield
    torch.set_num_threads(threads)
    torch.set_grad_enabled(grad_enabled)
