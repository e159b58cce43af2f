"""A small model under torch.compile, with torch_ext's layers against torch.nn's: where Inductor fuses an
activation into its neighbours, torch_ext's op (opaque to it) is a fusion barrier.

    python -m torch_ext.bench.model [--batch 4096] [--width 1024] [--acts ELU,SELU,Softplus,PReLU] [--json PATH]

Per activation: Linear(width, width) -> activation -> Linear(width, width) on [batch, width] float32, compiled
(Inductor, default mode) once with the torch.nn layer and once with torch_ext.nn's (the same parameters), timed
interleaved as the benchmark times ops (timing.py): the forward under no_grad (inference), and a training step
(forward, backward to the parameters and input). ratio = torch.nn's ms / torch_ext's ms (> 1: torch_ext faster).
"""

import argparse
import copy
import json
import sys
from typing import Dict, List, Optional, Sequence

import torch

from .timing import CpuTimer

ACTS = ["ELU", "SELU", "Softplus", "PReLU"]


def _model(act: torch.nn.Module, width: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(width, width), act, torch.nn.Linear(width, width))


def run(acts: Sequence[str] = ACTS, batch: int = 4096, width: int = 1024, repeats: int = 9, log=print) -> List[dict]:
    import torch_ext

    torch._dynamo.reset()
    timer = CpuTimer(torch.get_num_threads(), repeats)
    x = torch.randn(batch, width)
    xg = x.clone().requires_grad_()
    results = []
    log(f"{'activation':<10} {'pass':<6} {'torch.nn ms':>12} {'torch_ext ms':>13} {'ratio':>7}")
    for name in acts:
        ref = _model(getattr(torch.nn, name)(), width)
        ours = torch_ext.nn.convert(copy.deepcopy(ref))
        assert any(type(m).__module__.startswith("torch_ext") for m in ours.modules()), "convert() swapped nothing"
        compiled = {"torch.nn": torch.compile(ref), "torch_ext": torch.compile(ours)}

        def infer(m):
            def f():
                with torch.no_grad():
                    return m(x)
            return f

        def step(m):
            def f():
                m(xg).sum().backward()
            return f

        for pass_, make in (("infer", infer), ("train", step)):
            fns: Dict[str, object] = {side: make(m) for side, m in compiled.items()}
            t = timer.time(fns, working_set=batch * width * 4 * 4)
            r = dict(activation=name, pass_=pass_, batch=batch, width=width, torch_nn_ms=t["torch.nn"] * 1e3,
                     torch_ext_ms=t["torch_ext"] * 1e3, ratio=t["torch.nn"] / t["torch_ext"])
            results.append(r)
            log(f"{name:<10} {pass_:<6} {r['torch_nn_ms']:>12.3f} {r['torch_ext_ms']:>13.3f} {r['ratio']:>6.2f}x")
    return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m torch_ext.bench.model", description=__doc__.split("\n\n")[0])
    p.add_argument("--acts", default=",".join(ACTS), help="comma-separated subset of: " + ", ".join(ACTS))
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--width", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--json", metavar="PATH")
    a = p.parse_args(argv)
    acts = a.acts.split(",")
    bad = [n for n in acts if n not in ACTS]
    if bad:
        raise SystemExit(f"torch_ext.bench.model: unknown activation {bad}; choose from {ACTS}")
    sys.stdout.reconfigure(line_buffering=True)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, [{a.batch}, {a.width}] float32, compiled")
    results = run(acts, a.batch, a.width, a.repeats)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(dict(torch=torch.__version__, threads=torch.get_num_threads(), results=results), f, indent=1)
            f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
