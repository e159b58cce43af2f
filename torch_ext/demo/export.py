"""The model leaves Python: a TorchScript file, an AOTInductor package, and the data file the C++
program (examples/run_model) reads; then that program's run."""

import os
import re
import subprocess
import warnings
from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import torch

PathLike = Union[str, os.PathLike]


def save_torchscript(model: torch.nn.Module, path: PathLike) -> Tuple[Path, List[str]]:
    """``torch.jit.script`` of the model (in eval mode), saved for ``torch::jit::load``. The torch_ext
    layers stay calls of ``torch_ext::*`` ops in the file, resolved when C++ loads it.

    Returns the path and torch's deprecation notices for TorchScript (torch 2.15 deprecates
    ``torch.jit.script``/``save``; torch.export + AOTInductor is its successor and the demo's main path),
    one line each, for the caller to show."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scripted = torch.jit.script(model.eval())
        scripted.save(str(path))
    notices = []
    for w in caught:
        if is_torchscript_deprecation(w):
            notices.append(str(w.message).splitlines()[0])
        else:  # anything else goes on as it would have
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return Path(path), sorted(set(notices))


def is_torchscript_deprecation(w: warnings.WarningMessage) -> bool:
    """torch 2.15's FutureWarning "`torch.jit.save` is deprecated. Please switch to `torch.export`." and
    its kin (a DeprecationWarning in some releases)."""
    return issubclass(w.category, (DeprecationWarning, FutureWarning)) and re.match(
        r"`torch\.jit\.\w+` is deprecated", str(w.message)) is not None


def export_program(model: torch.nn.Module, example: torch.Tensor) -> torch.export.ExportedProgram:
    """``torch.export`` of the model in eval mode, with a dynamic batch dimension (dim 0 of the one input)."""
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    return torch.export.export(model.eval(), (example,), dynamic_shapes=({0: batch},))


def torch_ext_ops(program: torch.export.ExportedProgram) -> set:
    """Names of the torch_ext ops called in an exported program's graph, e.g. {"torch_ext.prelu", ...}."""
    names = set()
    for node in program.graph.nodes:
        if node.op == "call_function" and isinstance(node.target, torch._ops.OpOverload):
            if node.target.namespace == "torch_ext":
                names.add(f"torch_ext.{node.target._opname}")
    return names


def save_aoti(model: torch.nn.Module, example: torch.Tensor, path: PathLike) -> Path:
    """``torch.export`` then ``torch._inductor.aoti_compile_and_package``: a .pt2 package for
    ``torch::inductor::AOTIModelPackageLoader``. The package holds compiled code for the graph around the
    torch_ext ops; the ops themselves are called through the dispatcher at run time, so the program that
    loads it must have libtorch_ext_ops loaded."""
    program = export_program(model, example)
    out = torch._inductor.aoti_compile_and_package(program, package_path=str(path))
    return Path(out)


def save_data(path: PathLike, inputs: torch.Tensor, expected: torch.Tensor, labels: Optional[torch.Tensor] = None) -> Path:
    """The C++ program's input file: ``torch.save`` of a dict of tensors, read with ``torch::pickle_load``."""
    data = {"inputs": inputs.detach().contiguous(), "expected": expected.detach().contiguous()}
    if labels is not None:
        data["labels"] = labels.detach().to(torch.int64).contiguous()
    torch.save(data, str(path))
    return Path(path)


def run_cpp(
    program: PathLike,
    fmt: str,
    model_path: PathLike,
    data_path: PathLike,
    output_path: Optional[PathLike] = None,
    extra_args: Sequence[str] = (),
    timeout: float = 600,
) -> subprocess.CompletedProcess:
    """Runs examples/run_model: ``run_model --torchscript|--aoti MODEL --data DATA [--output OUT]``.
    Returns the finished process (its stdout and stderr captured as text); raises on a time-out."""
    if fmt not in ("torchscript", "aoti"):
        raise ValueError(f"run_cpp: format must be 'torchscript' or 'aoti', got {fmt!r}")
    if not Path(program).is_file():
        raise FileNotFoundError(f"run_cpp: the C++ program {program} does not exist (build it: make build)")
    cmd = [str(program), f"--{fmt}", str(model_path), "--data", str(data_path)]
    if output_path is not None:
        cmd += ["--output", str(output_path)]
    cmd += list(extra_args)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
