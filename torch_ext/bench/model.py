"""Activations under torch.compile: torch.nn's layers, torch_ext's kernels, and torch_ext's ops decomposed for
Inductor (torch_ext.inductor), side by side.

    python -m torch_ext.bench.model [--batch 4096] [--width 1024] [--acts ELU,SELU,...] [--json PATH]

Per activation, on [batch, width] float32, each compiled with Inductor (default mode), three sides: torch.nn's
layer; torch_ext.nn's layer as a kernel (no decomposition); and torch_ext.nn's layer decomposed, so that Inductor
fuses it with its neighbours. Passes, timed interleaved as the benchmark times ops (timing.py):
  infer  Linear(width, width) -> activation -> Linear(width, width), eval mode, forward under no_grad;
  train  the same model's training step in training mode (forward, backward to the parameters and input);
  chain  activation(x) * 2 + 1, eval mode, forward under no_grad: a pointwise chain Inductor fuses into one pass.
And the demo's classifier (in and hidden features = width, no dropout), infer and train, its torch.nn side
torch_ext.nn.revert of it, its decomposed side with torch_ext.inductor's default choice.
ratio = torch.nn's ms / torch_ext's ms, ratio_decomposed = torch.nn's ms / decomposed ms (> 1: faster than torch.nn).
This is the measurement behind torch_ext.inductor.DEFAULT_DECOMPOSED. Inductor's caches are off for the run: they
do not key on decompositions.
"""

import argparse
import copy
import json
import sys
import warnings
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import torch

from .timing import CpuTimer

# torch.nn layer -> (constructor keyword arguments, the torch_ext.inductor row it runs through)
ACTS: Dict[str, tuple] = {
    "ELU": ({}, "elu"),
    "CELU": ({}, "elu"),
    "SELU": ({}, "elu"),
    "Softplus": ({}, "softplus"),
    "PReLU": ({}, "prelu"),
    "RReLU": ({}, "rrelu"),
    "Softmax": ({"dim": 1}, "softmax"),
    "LogSoftmax": ({"dim": 1}, "log_softmax"),
    "Sigmoid": ({}, "sigmoid"),
    "Tanh": ({}, "tanh"),
    "LogSigmoid": ({}, "logsigmoid"),
    "ReLU": ({}, "relu"),
    "LeakyReLU": ({}, "leaky_relu"),
    # No torch.nn twin: torch.nn's side is the straight-through reference a user would write
    # (torch_ext.testing.reference, an autograd.Function over torch ops).
    "Sign": ({"grad": "swish_sign"}, "sign"),
    "Heaviside": ({"grad": "swish_sign"}, "heaviside"),
}
# The demo's classifier (every torch_ext layer, width-wide), infer and train only; its decomposed side uses
# torch_ext.inductor.DEFAULT_DECOMPOSED, what a user's compiled model gets.
CLASSIFIER = "classifier"
PASSES = ("infer", "train", "chain")
SIDES = ("torch.nn", "torch_ext", "decomposed")


def _layer(name: str) -> torch.nn.Module:
    """torch.nn's layer, or the reference's where torch.nn has none."""
    from torch_ext.testing import reference

    return (getattr(torch.nn, name, None) or getattr(reference, name))(**ACTS[name][0])


def _ext_layer(name: str) -> torch.nn.Module:
    import torch_ext

    return getattr(torch_ext.nn, name)(**ACTS[name][0])


def _model(act: torch.nn.Module, width: int) -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(width, width), act, torch.nn.Linear(width, width))


def _chain(act: torch.nn.Module) -> torch.nn.Module:
    class Chain(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.act = act

        def forward(self, x):
            return self.act(x) * 2 + 1

    return Chain()


def _own_code(module: torch.nn.Module) -> Callable:
    """module's forward as a function with its own code object. Dynamo keeps compiled graphs per code object and
    (inlining nn.Modules) would serve one side's graph to another side's model of the same shapes; the
    decomposition choice is not among its guards."""
    namespace: dict = {}
    exec("def forward(x):\n    return module(x)\n", {"module": module}, namespace)
    return namespace["forward"]


def _compiled_calls(modules: Dict[str, torch.nn.Module], pass_: str, x: torch.Tensor, xg: torch.Tensor,
                    decomposed: Iterable[str]) -> Dict[str, Callable[[], object]]:
    """Each side compiled and run once (so that it compiles under its own decomposition choice)."""
    import torch_ext

    calls = {}
    for side, module in modules.items():
        compiled = torch.compile(_own_code(module))
        if pass_ == "train":
            def call(m=compiled):
                m(xg).sum().backward()
        else:
            def call(m=compiled):
                with torch.no_grad():
                    return m(x)
        with torch_ext.inductor.decomposing(decomposed if side == "decomposed" else ()):
            call()
        calls[side] = call
    return calls


def run(acts: Sequence[str] = tuple(ACTS) + (CLASSIFIER,), batch: int = 4096, width: int = 1024, repeats: int = 9,
        log=print) -> List[dict]:
    import torch_ext

    timer = CpuTimer(torch.get_num_threads(), repeats)
    x = torch.randn(batch, width)
    xg = x.clone().requires_grad_()
    results = []
    log(f"{'activation':<10} {'pass':<6} {'torch.nn ms':>12} {'torch_ext ms':>13} {'decomposed ms':>14} "
        f"{'ratio':>7} {'decomposed':>10}")
    try:
        with torch.compiler.config.patch(force_disable_caches=True), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*force_disable_caches.*")
            for name in acts:
                for pass_ in PASSES if name != CLASSIFIER else PASSES[:2]:
                    torch._dynamo.reset()
                    if name == CLASSIFIER:
                        from torch_ext.demo.model import classifier

                        torch.manual_seed(0)
                        ours = classifier(in_features=width, hidden=width, dropout=0.0)
                        ref = torch_ext.nn.revert(copy.deepcopy(ours))
                        decomposed = torch_ext.inductor.DEFAULT_DECOMPOSED
                    else:
                        ref = _chain(_layer(name)) if pass_ == "chain" else _model(_layer(name), width)
                        ours = torch_ext.nn.convert(copy.deepcopy(ref))
                        if not hasattr(torch.nn, name):  # convert() swaps torch.nn's layers only
                            ours = _chain(_ext_layer(name)) if pass_ == "chain" else _model(_ext_layer(name), width)
                        decomposed = {ACTS[name][1]}
                    assert any(type(m).__module__.startswith("torch_ext") for m in ours.modules()), \
                        "convert() swapped nothing"
                    modules = {"torch.nn": ref, "torch_ext": ours, "decomposed": copy.deepcopy(ours)}
                    for m in modules.values():  # inference in eval mode (RReLU's fixed slope)
                        m.train(pass_ == "train")
                    fns = _compiled_calls(modules, pass_, x, xg, decomposed)
                    t = timer.time(fns, working_set=batch * width * 4 * 4)
                    r = dict(activation=name, pass_=pass_, batch=batch, width=width,
                             torch_nn_ms=t["torch.nn"] * 1e3, torch_ext_ms=t["torch_ext"] * 1e3,
                             decomposed_ms=t["decomposed"] * 1e3, ratio=t["torch.nn"] / t["torch_ext"],
                             ratio_decomposed=t["torch.nn"] / t["decomposed"])
                    results.append(r)
                    log(f"{name:<10} {pass_:<6} {r['torch_nn_ms']:>12.3f} {r['torch_ext_ms']:>13.3f} "
                        f"{r['decomposed_ms']:>14.3f} {r['ratio']:>6.2f}x {r['ratio_decomposed']:>9.2f}x")
    finally:
        torch._dynamo.reset()
    return results


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m torch_ext.bench.model", description=__doc__.split("\n\n")[0])
    names = list(ACTS) + [CLASSIFIER]
    p.add_argument("--acts", default=",".join(names), help="comma-separated subset of: " + ", ".join(names))
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--width", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=9)
    p.add_argument("--json", metavar="PATH")
    a = p.parse_args(argv)
    acts = a.acts.split(",")
    bad = [n for n in acts if n not in names]
    if bad:
        raise SystemExit(f"torch_ext.bench.model: unknown activation {bad}; choose from {names}")
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
