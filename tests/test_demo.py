"""`make demo` (python -m torch_ext.demo): the whole demo as `make demo` runs it, its parts, and its failure
paths."""

import json
import math
import subprocess
import sys

import pytest
import torch

import torch_ext.demo.__main__ as demo
import torch_ext.validate as validate
from torch_ext.demo import binary, compare, plots, word2vec
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
    # accuracy rows, gradcheck, gradgradcheck of the ops and of the losses; hierarchical softmax's accuracy rows (one
    # per tree and dtype) and one gradcheck/gradgradcheck row
    checks = ((len(validate.DTYPES) + 2) * (len(validate.CASES) + len(validate.LOSS_CASES))
              + len(validate.DTYPES) * len(validate.HSOFTMAX_CASES) + 2) * len(devices)
    assert f"({validate.DEFAULT_SIZE} elements, seed 0)" in out and f"\n{checks} passed, 0 failed\n" in out
    for fmt in ("torchscript", "aoti"):
        assert f"{fmt}: C++ predictions equal Python's on 360/360 test digits" in out, fmt
    assert out.count("predictions equal to Python's: 360/360") == 2  # the C++ program's own reports
    assert "activation  " in out and "epochs to 90 %" in out
    for activation in compare.ACTIVATIONS:
        assert f"\n{activation.name}  " in out, activation.name  # a row of the comparison's table
    for head in binary.HEADS:  # the two-class section's table
        assert f"\n{head.name}  " in out, head.name
    assert "the softmax head is a sigmoid head on z1 - z0" in out
    assert "nearest neighbours (cosine similarity" in out and "full softmax (Linear(64, " in out
    assert "loss: first epoch " in out and ": fell\n" in out  # the word2vec section
    for name in ("training.png", "activations.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC, name
    for name in ("model.pt", "model.pt2", "test_set.pt", "activations.json", "activations.csv"):
        assert (tmp_path / name).is_file(), name
    assert out.rstrip().endswith(f"demo: all steps ok; artifacts in {tmp_path}")


def test_demo_fails_when_a_step_fails(tmp_path, capsys):
    # An accuracy it cannot reach, a missing C++ program and a comparison of one epoch (sigmoid's MLP stays far
    # below 90 %): the three steps fail, the plots still come.
    rc = demo.main(["--out", str(tmp_path), "--epochs", "1", "--min-accuracy", "1.01", "--skip-validate",
                    "--formats", "torchscript", "--run-model", str(tmp_path / "missing"), "--compare-epochs", "1",
                    "--word2vec-epochs", "2", "--no-progress"])
    out = capsys.readouterr().out
    assert rc == 1
    assert "demo: FAILED: Train a torch_ext classifier" in out and "Run the trained model from C++" in out
    assert "Activations compared" in out.split("demo: FAILED:")[1] and "FAILED: sigmoid: test accuracy" in out
    assert (tmp_path / "activations.png").is_file() and (tmp_path / "activations.json").is_file()


def test_plotted_derivatives_are_torchs():
    # The derivative curves come from the torch_ext ops' backward; they must be the true derivatives.
    x = torch.linspace(-4, 4, 101, dtype=torch.float64)
    references = {
        "sigmoid": torch.sigmoid,
        "tanh": torch.tanh,
        "ReLU": torch.relu,
        "Leaky ReLU (0.01)": torch.nn.functional.leaky_relu,
        "PReLU (a=0.25 at init)": lambda t: torch.nn.functional.prelu(t, torch.tensor([0.25], dtype=t.dtype)),
        "ELU (alpha=1)": torch.nn.functional.elu,
        "SELU": torch.nn.functional.selu,
        "softplus (beta=1)": torch.nn.functional.softplus,
        "softmax([x, 0])[0]": torch.sigmoid,
        # the seed's two classes: log_softmax([x, 0])[0] = logsigmoid(x)
        "log_softmax([x, 0])[0]": torch.nn.functional.logsigmoid,
        "logsigmoid": torch.nn.functional.logsigmoid,
    }
    checked = set()
    for name, fn, surrogate in plots.PANELS:
        if name in references:
            assert not surrogate, name
            y, dy = plots.value_and_derivative(fn, x)
            y_ref, dy_ref = plots.value_and_derivative(references[name], x)
            torch.testing.assert_close(y, y_ref, msg=name)
            torch.testing.assert_close(dy, dy_ref, msg=name)
            checked.add(name)
    assert checked == set(references)


def test_plotted_sign_panels_show_the_surrogates():
    # Sign's panels plot the surrogate its backward uses (the true derivative is 0 almost everywhere).
    # Heaviside's step and surrogate are sign's halved, shifted up by 1/2.
    x = torch.linspace(-4, 4, 101, dtype=torch.float64)
    sign = torch.where(x < 0, -1.0, 1.0).double()
    clipped = (x.abs() <= 1).double()
    surrogates = {
        "sign (identity)": (sign, torch.ones_like(x)),
        "sign (clipped)": (sign, clipped),
        "sign (approx_sign)": (sign, torch.where(x.abs() <= 1, 2 - 2 * x.abs(), torch.zeros_like(x))),
        "heaviside (clipped)": ((sign + 1) / 2, clipped / 2),
    }
    panels = {name: (fn, surrogate) for name, fn, surrogate in plots.PANELS}
    for name, (step, expected) in surrogates.items():
        fn, surrogate = panels[name]
        assert surrogate, name
        y, dy = plots.value_and_derivative(fn, x)
        torch.testing.assert_close(y, step, msg=name)
        torch.testing.assert_close(dy, expected, msg=name)


def test_the_plot_and_the_table_read_one_list():
    names = [a.name for a in compare.ACTIVATIONS]
    assert [name for name, _, _ in plots.PANELS[: len(names)]] == names
    assert [s for _, _, s in plots.PANELS[: len(names)]] == [a.surrogate for a in compare.ACTIVATIONS]
    assert len(names) == len(set(names)) == 13
    assert sum(a.surrogate for a in compare.ACTIVATIONS) == 5  # sign with each surrogate, heaviside


def test_activations_compared(tmp_path):
    # The comparison step on 3 epochs (about 2 s): a row for every activation, in the list's order, in the
    # printed table and in the JSON and CSV files; then the plot of every activation.
    data = load_digits_split()
    compare.run(data, tmp_path, epochs=3)  # its verdict at 3 epochs is not the point here
    table = json.loads((tmp_path / "activations.json").read_text())
    assert table["epochs"] == 3 and table["target"] == compare.TARGET
    rows = {r["activation"]: r for r in table["rows"]}
    assert list(rows) == [a.name for a in compare.ACTIVATIONS]
    for name, r in rows.items():
        assert 0 <= r["test_accuracy"] <= 1, name
        assert len(r["loss"]) == len(r["test_accuracy_per_epoch"]) == 3, name
        assert all(math.isfinite(v) for v in r["loss"] + r["test_accuracy_per_epoch"]), name
        assert r["test_accuracy"] == r["test_accuracy_per_epoch"][-1], name
        reached = [e for e, a in enumerate(r["test_accuracy_per_epoch"], 1) if a >= compare.TARGET]
        assert r["epochs_to_target"] == (reached[0] if reached else None), name
        assert r["seconds"] > 0, name
    assert rows["ReLU"]["test_accuracy"] > 0.6  # chance is 0.1
    csv_lines = (tmp_path / "activations.csv").read_text().splitlines()
    assert len(csv_lines) == 1 + len(compare.ACTIVATIONS)
    assert plots.plot_activations(tmp_path / "activations.png").read_bytes()[:8] == PNG_MAGIC


def test_comparison_table_and_verdict():
    def row(name, accuracy, surrogate=False, loss=0.1):
        return compare.Row(name, surrogate, accuracy, None if accuracy < 0.9 else 1, 1.0, [loss], [accuracy])

    rows = [row("sign (identity)", 0.5, surrogate=True), row("ReLU", 0.95), row("tanh", 0.85),
            row("sigmoid", 0.97, loss=float("nan"))]
    # A sign row's low accuracy is reported, not judged; a smooth one's fails the step, as a NaN does.
    assert compare.problems(rows) == ["tanh: test accuracy 85.00 % < 90 %", "sigmoid: a loss or accuracy is not finite"]
    assert compare.problems(rows[:2]) == []
    lines = compare.format_table(rows).splitlines()
    assert len(lines) == 2 + len(rows) and len({len(line) for line in lines}) == 1  # aligned
    assert lines[2].split() == ["sign", "(identity)", "50.00", "%", "never", "1.00", "s"]


def test_binary_heads_are_one_model():
    # The two-class section: both heads learn odd against even, and the softmax head equals its sigmoid twin.
    data = load_digits_split()
    for head in binary.HEADS:
        _, losses, accuracy, _ = binary.train_head(head, data, epochs=3)
        assert accuracy >= 0.85 and all(math.isfinite(v) for v in losses), head.name
    assert binary.run(data, epochs=3)


def test_word2vec_corpus_and_pairs():
    # The corpus is the same on every read; the vocabulary is the words of count >= MIN_COUNT, most frequent first.
    a, b = word2vec.load_corpus(20_000), word2vec.load_corpus(20_000)
    assert a.words == b.words and torch.equal(a.ids, b.ids) and a.tokens_read == 20_000
    assert int(a.counts.min()) >= word2vec.MIN_COUNT and torch.all(a.counts[:-1] >= a.counts[1:])
    assert int(a.ids.max()) < len(a.words) and a.ids.shape == a.docstring.shape
    # Pairs both ways within the window, never across two docstrings.
    tiny = word2vec.Corpus(list("abcde"), torch.ones(5, dtype=torch.int64), torch.tensor([0, 1, 2, 3, 4]),
                           torch.tensor([0, 0, 0, 1, 1]), 5)
    centres, contexts = word2vec.skipgram_pairs(tiny, 2, torch.Generator(), subsample=None)
    pairs = set(zip(centres.tolist(), contexts.tolist()))
    assert pairs == {(0, 1), (1, 0), (1, 2), (2, 1), (0, 2), (2, 0), (3, 4), (4, 3)}


def test_word2vec_step(capsys):
    # The step on the first 20k tokens, 2 epochs, 20 timed batches (a few seconds): the loss falls, the
    # neighbours and both throughputs are printed.
    assert word2vec.run(epochs=2, max_tokens=20_000, timed_steps=20)
    out = capsys.readouterr().out
    assert "corpus: 20000 tokens" in out and "nearest neighbours" in out
    assert "training speed over 20 batches" in out and "pairs/s; ratio " in out
    assert ": fell\n" in out
