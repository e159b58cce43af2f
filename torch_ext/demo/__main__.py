"""``make demo``: train a torch_ext classifier on the 8x8 digits, print the validation report, run the
trained model from C++ (TorchScript and AOTInductor) on the whole test set, compare the activations (a
small MLP trained once per activation), answer the seed's "two classes: sigmoid or softmax?" (odd against even
digits with each head), train word2vec's skip-gram on the standard library's docstrings with torch_ext's
hierarchical softmax, and plot.

    python -m torch_ext.demo [--out build/demo] [--run-model build/cmake/examples/run_model/run_model]
                             [--epochs 40] [--formats aoti,torchscript] [--skip-validate] [--compare-epochs 20]
                             [--word2vec-epochs 4]

Each step reports ok or FAILED; the exit status is 1 if any failed (a later step still runs when it can).
"""

import argparse
import sys
import time
import traceback
from pathlib import Path
from typing import Callable, List, Optional

import torch

import torch_ext
from torch_ext import validate

from . import binary, compare, export, word2vec
from .model import classifier, load_digits_split, train

ROOT = Path(torch_ext.__file__).resolve().parents[1]
DEFAULT_PROGRAM = ROOT / "build" / "cmake" / "examples" / "run_model" / "run_model"


class Steps:
    """Runs the numbered steps; an exception or a False result marks a step FAILED."""

    def __init__(self, total: int):
        self.total, self.done, self.failed = total, 0, []

    def run(self, title: str, fn: Callable[[], bool]) -> bool:
        self.done += 1
        print(f"\n=== [{self.done}/{self.total}] {title}", flush=True)
        start = time.perf_counter()
        try:
            ok = bool(fn())
        except Exception:  # noqa: BLE001  (the demo reports every step, then fails at the end)
            traceback.print_exc()
            ok = False
        print(f"=== [{self.done}/{self.total}] {title}: {'ok' if ok else 'FAILED'} ({time.perf_counter() - start:.1f} s)",
              flush=True)
        if not ok:
            self.failed.append(title)
        return ok

    def skip(self, title: str, why: str) -> None:
        """A step that cannot run counts (the numbering stays [k/total]) and fails the demo."""
        self.done += 1
        print(f"\n=== [{self.done}/{self.total}] {title}: SKIPPED ({why})", flush=True)
        self.failed.append(f"{title} ({why})")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("build/demo"), help="where the model, data and plots go")
    parser.add_argument("--run-model", type=Path, default=DEFAULT_PROGRAM, help="the C++ program (examples/run_model)")
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--min-accuracy", type=float, default=0.95, help="test accuracy the training must reach")
    parser.add_argument("--formats", default="aoti,torchscript",
                        help="what the C++ program runs (comma-separated): aoti (torch.export + AOTInductor, the main "
                             "path) and torchscript (deprecated by torch 2.15, kept while torch ships it)")
    parser.add_argument("--skip-validate", action="store_true", help="leave out the validation report")
    parser.add_argument("--validate-size", type=int, default=validate.DEFAULT_SIZE,
                        help="elements per validation accuracy check")
    parser.add_argument("--compare-epochs", type=int, default=compare.EPOCHS,
                        help="epochs per activation in the comparison (a small MLP trained once per activation)")
    parser.add_argument("--word2vec-epochs", type=int, default=word2vec.EPOCHS,
                        help="epochs of skip-gram with the hierarchical softmax (the loss must fall: 2 or more)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    formats = [f for f in args.formats.split(",") if f]
    for f in formats:
        if f not in ("torchscript", "aoti"):
            parser.error(f"--formats: unknown format {f!r} (torchscript, aoti)")
    if args.word2vec_epochs < 2:
        parser.error("--word2vec-epochs: 2 or more (the step compares the first epoch's loss with the last's)")
    args.out.mkdir(parents=True, exist_ok=True)

    info = torch_ext.build_info()
    print(f"torch_ext {info['version']} (torch {info['torch_version']}, CPU kernels {info['cpu_capability']}), "
          f"{torch.get_num_threads()} threads; artifacts in {args.out}")

    steps = Steps(6 + (not args.skip_validate))
    state = {}

    def train_step() -> bool:
        torch.manual_seed(args.seed)
        data = load_digits_split(seed=args.seed)
        model = classifier()
        print(f"{data.x_train.shape[0]} training and {data.x_test.shape[0]} test digits (8x8, 10 classes)\n{model}")
        history = train(model, data, epochs=args.epochs, seed=args.seed, progress=False if args.no_progress else None)
        state.update(model=model, data=data, history=history)
        acc = history.test_accuracy[-1]
        print(f"trained {args.epochs} epochs in {history.seconds:.1f} s: final loss {history.loss[-1]:.4f}, "
              f"test accuracy {100 * acc:.2f} % (required: {100 * args.min_accuracy:.0f} %)")
        return acc >= args.min_accuracy

    def validate_step() -> bool:
        return validate.main(["--size", str(args.validate_size)]) == 0

    def cpp_step() -> bool:
        model, data = state["model"].eval(), state["data"]
        with torch.no_grad():
            expected = model(data.x_test)
        py_pred = expected.argmax(dim=1)
        py_acc = (py_pred == data.y_test).double().mean().item()
        data_path = export.save_data(args.out / "test_set.pt", data.x_test, expected, data.y_test)
        ok = True
        for fmt in formats:
            if fmt == "torchscript":
                model_path, notices = export.save_torchscript(model, args.out / "model.pt")
                for notice in notices:
                    print(f"note: torch {torch.__version__} deprecates TorchScript: {notice}", flush=True)
            else:
                print("torch.export + AOTInductor compile (a C++ compile: takes a while) ...", flush=True)
                model_path = export.save_aoti(model, data.x_test[:8], args.out / "model.pt2")
            out_path = args.out / f"cpp_outputs_{fmt}.pt"
            print(f"$ {args.run_model} --{fmt} {model_path} --data {data_path} --output {out_path}", flush=True)
            proc = export.run_cpp(args.run_model, fmt, model_path, data_path, out_path)
            print(proc.stdout, end="")
            print(proc.stderr, end="", file=sys.stderr)
            if proc.returncode != 0:
                print(f"{fmt}: the C++ program exited {proc.returncode}")
                ok = False
                continue
            # Python's own check of what C++ wrote, beside the program's report.
            cpp_pred = torch.load(out_path).argmax(dim=1)
            same = int((cpp_pred == py_pred).sum())
            cpp_acc = (cpp_pred == data.y_test).double().mean().item()
            equal = same == py_pred.numel()
            print(f"{fmt}: C++ predictions {'equal' if equal else 'DIFFER FROM'} Python's on {same}/{py_pred.numel()} "
                  f"test digits; accuracy C++ {100 * cpp_acc:.2f} %, Python {100 * py_acc:.2f} %")
            ok = ok and equal
        return ok

    def compare_step() -> bool:
        data = state.get("data") or load_digits_split(seed=args.seed)
        return compare.run(data, args.out, epochs=args.compare_epochs, seed=args.seed)

    def binary_step() -> bool:
        data = state.get("data") or load_digits_split(seed=args.seed)
        return binary.run(data, seed=args.seed)

    def word2vec_step() -> bool:
        return word2vec.run(epochs=args.word2vec_epochs, seed=args.seed)

    def plot_step() -> bool:
        from . import plots

        written = []
        if "history" in state:
            written.append(plots.plot_training(state["history"], args.out / "training.png"))
        written.append(plots.plot_activations(args.out / "activations.png"))
        for p in written:
            print(f"wrote {p}")
        return "history" in state

    steps.run("Train a torch_ext classifier on the 8x8 digits", train_step)
    if not args.skip_validate:
        steps.run("Validation report: every op and ATen against float64", validate_step)
    if "model" in state:
        steps.run(f"Run the trained model from C++ ({', '.join(formats)}) on the test set", cpp_step)
    else:
        steps.skip("Run the trained model from C++", "no trained model")
    steps.run("Activations compared: the digits MLP trained once per activation", compare_step)
    steps.run("Two classes, sigmoid or softmax: odd against even digits with each head", binary_step)
    steps.run("word2vec: skip-gram with torch_ext's hierarchical softmax", word2vec_step)
    steps.run("Plots: training curve, activations and derivatives", plot_step)

    if steps.failed:
        print(f"\ndemo: FAILED: {'; '.join(steps.failed)}")
        return 1
    print(f"\ndemo: all steps ok; artifacts in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
