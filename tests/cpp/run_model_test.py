"""ctest driver of examples/run_model: Python exports a model of torch_ext layers, inputs and the expected
outputs into a temporary directory, then the C++ program runs the model and compares.

    python tests/cpp/run_model_test.py --program build/cmake/examples/run_model/run_model --format torchscript|aoti

Checks, each fatal:
  * the program does not link libpython (C++ users need no Python);
  * on a batch size other than the export's example, the program's outputs are those of the eager
    Python model (its own comparison, and Python's reading of the outputs it writes);
  * given expected outputs off by a little, it reports the difference and exits 1 (its comparison can fail);
  * the model: the demo's classifier with a hierarchical softmax head (log-probabilities of every class);
  * aoti: the exported graph calls every torch_ext op of the model (nothing decomposed to ATen), and the
    compiled package still calls them (they are not compiled into it).
Exits 0 when all pass. --keep DIR keeps the artifacts there.
"""

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch

import torch_ext
from torch_ext.demo import export
from torch_ext.demo.model import NUM_FEATURES, classifier

EXPECTED_OPS = {"torch_ext.prelu", "torch_ext.elu", "torch_ext.selu", "torch_ext.softplus", "torch_ext.rrelu",
                "torch_ext.log_softmax", "torch_ext.hsoftmax_log_prob"}
# The ops the AOTInductor package calls through the dispatcher at run time (selu lowers to elu).
PACKAGE_OPS = {"prelu", "elu", "softplus", "rrelu", "log_softmax", "hsoftmax_log_prob"}


class WithHierarchicalHead(torch.nn.Module):
    """The demo's classifier, its 10 outputs fed to a hierarchical softmax head over 10 classes (Huffman tree):
    every class's log-probability, so the C++ program runs hsoftmax_log_prob and its tree buffers too."""

    def __init__(self):
        super().__init__()
        self.body = classifier(hidden=32)
        self.head = torch_ext.nn.HierarchicalSoftmax(10, 10, counts=[50, 30, 20, 10, 8, 5, 4, 3, 2, 1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head.log_prob(self.body(x))


def fail(msg: str) -> None:
    print(f"run_model_test: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def check_no_libpython(program: Path) -> None:
    ldd = shutil.which("ldd")
    if ldd is None:
        print("run_model_test: no ldd here, libpython check skipped")
        return
    libs = subprocess.run([ldd, str(program)], capture_output=True, text=True, check=True).stdout
    if "libpython" in libs:
        fail(f"{program} links libpython:\n{libs}")
    if "libtorch_ext_ops" not in libs:
        fail(f"{program} does not load libtorch_ext_ops (dropped by the linker?):\n{libs}")
    print(f"run_model_test: {program.name} loads libtorch_ext_ops and no libpython")


def package_ops(package: Path) -> set:
    """torch_ext ops an AOTInductor package calls: Inductor compiles the graph around them into C++ and
    lists each custom-op call (made at run time through the proxy executor and the dispatcher) in the
    wrapper's JSON file."""
    ops = set()
    with zipfile.ZipFile(package) as z:
        for name in z.namelist():
            if name.endswith(".json"):
                ops |= set(re.findall(r"torch_ext::(\w+)", z.read(name).decode("utf-8", "replace")))
    return ops


def run(program: Path, fmt: str, model_path: Path, data_path: Path, output: Path = None) -> subprocess.CompletedProcess:
    proc = export.run_cpp(program, fmt, model_path, data_path, output)
    print(proc.stdout, end="")
    print(proc.stderr, end="", file=sys.stderr)
    return proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--program", required=True, type=Path)
    parser.add_argument("--format", required=True, choices=["torchscript", "aoti"])
    parser.add_argument("--keep", type=Path, help="keep the artifacts in this directory")
    args = parser.parse_args()
    print(f"run_model_test: torch {torch.__version__}, torch_ext from {Path(torch_ext.__file__).parent}")
    check_no_libpython(args.program)

    torch.manual_seed(0)
    model = WithHierarchicalHead().eval()
    example = torch.rand(8, NUM_FEATURES)
    inputs = torch.rand(37, NUM_FEATURES)  # another batch size: the exported batch dimension is dynamic
    with torch.no_grad():
        expected = model(inputs)

    tmp = args.keep or Path(tempfile.mkdtemp(prefix="torch_ext_run_model."))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        if args.format == "torchscript":
            model_path, notices = export.save_torchscript(model, tmp / "model.pt")
            for notice in notices:
                print(f"note: torch {torch.__version__} deprecates TorchScript: {notice}")
        else:
            ops = export.torch_ext_ops(export.export_program(model, example))
            if ops != EXPECTED_OPS:
                fail(f"the exported graph calls {sorted(ops)}, expected {sorted(EXPECTED_OPS)}")
            model_path = export.save_aoti(model, example, tmp / "model.pt2")
            called = package_ops(model_path)
            if called != PACKAGE_OPS:
                fail(f"the AOTInductor package calls torch_ext ops {sorted(called)}, expected {sorted(PACKAGE_OPS)}")
            print(f"run_model_test: the package calls torch_ext::{{{', '.join(sorted(called))}}} at run time")
        data = export.save_data(tmp / "data.pt", inputs, expected)

        out_path = tmp / "out.pt"
        proc = run(args.program, args.format, model_path, data, out_path)
        if proc.returncode != 0:
            fail(f"run_model exited {proc.returncode}")
        out = torch.load(out_path)
        torch.testing.assert_close(out, expected, rtol=1e-4, atol=1e-5)
        print(f"run_model_test: Python reads the C++ outputs back: max |diff| {(out - expected).abs().max():.3g}")

        # The comparison can fail: expected outputs moved by 1e-3 must be refused.
        wrong = export.save_data(tmp / "wrong.pt", inputs, expected + 1e-3)
        proc = run(args.program, args.format, model_path, wrong)
        if proc.returncode != 1 or "NOT within" not in proc.stdout:
            fail(f"run_model accepted outputs off by 1e-3 (exit {proc.returncode})")
        print(f"run_model_test: {args.format}: OK")
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
