"""Packaging: what a user installing torch_ext into their own environment meets (README: "Install into
your own environment"). scripts/torch_range.sh checks the same against a real second torch: the wheel's
requirement, a plain `pip install .`, and an import under another torch release."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import torch_ext

ROOT = Path(__file__).resolve().parents[1]


def test_setup_without_torch_says_what_to_do():
    # As in pip's isolated build: setuptools is there, torch is not.
    code = (
        "import sys; sys.modules['torch'] = None; sys.argv = ['setup.py', '--version']; "
        f"exec(compile(open({str(ROOT / 'setup.py')!r}).read(), 'setup.py', 'exec'))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode != 0
    assert "building needs torch already installed" in result.stderr
    assert "pip install --no-build-isolation ." in result.stderr
    assert "Traceback" not in result.stderr


def test_built_torch_is_recorded_beside_the_library():
    recorded = (Path(torch_ext.__file__).with_name("lib") / "torch_version.txt").read_text().strip()
    assert recorded == torch.__version__


@pytest.mark.parametrize("built", ["2.9.1+cu128", "2.15.0+cu132", "3.0.0"])
def test_import_under_another_torch_release_names_both(tmp_path, built):
    if built.split(".")[:2] == torch.__version__.split(".")[:2]:
        pytest.skip("the same release as the torch under test")
    recorded = tmp_path / "torch_version.txt"
    recorded.write_text(built + "\n")
    expected = f"built against torch {built}, but torch {torch.__version__} is imported"
    with pytest.raises(ImportError, match=re.escape(expected)):
        torch_ext._check_torch_release(recorded, torch.__version__)


@pytest.mark.parametrize("patch", ["0", "1", "3"])
def test_import_under_the_same_release_is_fine(tmp_path, patch):
    major, minor = torch.__version__.split(".")[:2]
    recorded = tmp_path / "torch_version.txt"
    recorded.write_text(f"{major}.{minor}.{patch}+cu130\n")
    torch_ext._check_torch_release(recorded, torch.__version__)
