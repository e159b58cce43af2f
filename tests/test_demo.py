"""`make demo` (python -m torch_ext.demo): the whole demo as `make demo` runs it, its parts, and its failure
paths."""

import subprocess
import sys

import pytest
import torch

import torch_ext.demo.__main__ as demo
import torch_ext.validate as validate
from torch_ext.demo import plots
from torch_ext.demo.model import classifier, load_digits_split, train

PROGRAM = demo.DEFAULT_PROGRAM
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_split_is_deterministic_and_stratified():
    a, b = load_digits_split(), load_digits_split()
    assert torch.equal(a.x_test, b.x_test) and torch.equal(a.y_test, b.y_test)
    assert a.x_train.shape == (1437, 64) and a.x_test.shape == (360, 64)
    assert 0 <= float(a.x_train.min()) and float(a.x_train.max()) <= 1
    # Stratified: every class is 10 % of the test set, give or take one image.
    counts = torch.bincount(a.y_test, minlength=10)
    assert int(counts.min()) >= 35 and int(counts.max()) <= 37, counts


def test_training_is_reproducible():
    def run():
        torch.manual_seed(0)
        model = classifier(hidden=32)
        history = train(model, load_digits_split(), epochs=2, progress=False)
        return history, model

    (h1, m1), (h2, m2) = run(), run()
    assert h1.loss == h2.loss and h1.test_accuracy == h2.test_accuracy
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p1, p2)


@pytest.mark.skipif(not PROGRAM.is_file(), reason=f"the C++ program is not built ({PROGRAM})")
def test_make_demo(tmp_path):
    # What `make demo` runs, in a process of its own, with every default (training, the validation report at its
    # size and seed on every device present, TorchScript and AOTInductor from C++, plots); only --out differs.
    proc = subprocess.run([sys.executable, "-m", "torch_ext.demo", "--out", str(tmp_path), "--run-model", str(PROGRAM),
                           "--no-progress"], capture_output=True, text=True, timeout=900)
    out = proc.stdout
    assert proc.returncode == 0, out[-6000:] + proc.stderr[-3000:]
    assert "test accuracy" in out and "required: 95 %" in out
    for column in validate.HEADER:
        assert column in out, column
    devices = validate.devices_for("all")
    assert f"devices: {', '.join(devices)}" in out
    checks = (len(validate.DTYPES) + 2) * len(validate.CASES) * len(devices)  # accuracy rows, gradcheck, gradgradcheck
    assert f"({validate.DEFAULT_SIZE} elements, seed 0)" in out and f"\n{checks} passed, 0 failed\n" in out
    for fmt in ("torchscript", "aoti"):
        assert f"{fmt}: C++ predictions equal Python's on 360/360 test digits" in out, fmt
    assert out.count("predictions equal to Python's: 360/360") == 2  # the C++ program's own reports
    for name in ("training.png", "activations.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC, name
    for name in ("model.pt", "model.pt2", "test_set.pt"):
        assert (tmp_path / name).is_file(), name
    assert out.rstrip().endswith(f"demo: all steps ok; artifacts in {tmp_path}")


def test_demo_fails_when_a_step_fails(tmp_path, capsys):
    # An accuracy it cannot reach and a missing C++ program: both steps fail, the others still run.
    rc = demo.main(["--out", str(tmp_path), "--epochs", "1", "--min-accuracy", "1.01", "--skip-validate",
                    "--formats", "torchscript", "--run-model", str(tmp_path / "missing"), "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "demo: FAILED: Train a torch_ext classifier" in out and "Run the trained model from C++" in out
    assert (tmp_path / "activations.png").is_file()


def test_plotted_derivatives_are_torchs():
    # The derivative curves come from the torch_ext ops' backward; they must be the true derivatives.
    x = torch.linspace(-4, 4, 101, dtype=torch.float64)
    references = {
        "ELU (alpha=1)": torch.nn.functional.elu,
        "SELU": torch.nn.functional.selu,
        "softplus (beta=1)": torch.nn.functional.softplus,
        "softmax([x, 0])[0]": torch.sigmoid,
    }
    for name, fn in plots.ACTIVATIONS:
        if name in references:
            y, dy = plots.value_and_derivative(fn, x)
            y_ref, dy_ref = plots.value_and_derivative(references[name], x)
            torch.testing.assert_close(y, y_ref, msg=name)
            torch.testing.assert_close(dy, dy_ref, msg=name)
