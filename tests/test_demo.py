"""`make demo` (python -m torch_ext.demo): the whole demo on its full training budget (a few seconds),
without the parts other tests cover (the validation report: test_validate.py; AOTInductor: the
run_model_aoti ctest), and its failure paths."""

from pathlib import Path

import pytest
import torch

import torch_ext.demo.__main__ as demo
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
def test_demo_end_to_end(tmp_path, capsys):
    rc = demo.main(["--out", str(tmp_path), "--skip-validate", "--formats", "torchscript", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "test accuracy" in out and "required: 95 %" in out
    assert "predictions equal to Python's: 360/360" in out  # the C++ program's report
    assert "torchscript: C++ predictions equal Python's on 360/360 test digits" in out  # Python's check of it
    for name in ("training.png", "activations.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC, name
    assert (tmp_path / "model.pt").is_file() and (tmp_path / "test_set.pt").is_file()


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
