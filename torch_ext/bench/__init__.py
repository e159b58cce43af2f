"""torch_ext's benchmark: every op against ATen, side by side in one process.

    python -m torch_ext.bench [--device cpu|cuda] [--ops elu,prelu,...] [--dtype float32,bfloat16]
                              [--quick] [--json PATH] [--plot PATH] [--threads N] [--repeats N]

For each op, pass (fwd; bwd = the backward op alone), dtype and size it times torch_ext's call and
ATen's on the same tensors, interleaved, as medians over repeats (torch.utils.benchmark on the CPU,
CUDA events on the GPU; see timing.py for warm-up and cache flushing), and a clone() that moves the
same number of bytes, in the same run, as the bandwidth roof. Before timing, one result of each is
compared, so that the two calls are known to compute the same thing. What each case compares is
described in cases.py.

Each result (JSON "results"): op, pass, dtype, shape, dim, layout, ours_ms, torch_ms,
speedup (= torch_ms / ours_ms), gbps (the minimum bytes the op must move / ours_ms), copy_gbps (the
clone's), and variant, bytes, copy_ms, flushed (timed from a flushed cache), repeats, the fastest repeat
of each side (ours_min_ms, torch_min_ms, copy_min_ms), ours_peak_bytes and torch_peak_bytes (the peak of the bytes
one call allocates beyond what was allocated before it, measured once outside the timing; the method is the JSON's
peak_memory_method, see bench/NOTES.md), check ("ok" or what differed), and on the CPU malloc
(the allocator mode it ran under: "default" or "reuse"; both by default, see --malloc). The summary gives the
geometric mean speedup, each op's worst case, and on the CPU the goals of issues #6 and #25, per allocator
mode. With --compile, the largest size of each op, pass and dtype also times torch.compile of ATen's side:
compiled_ms, speedup_compiled (= compiled_ms / ours_ms) and compile_s (its first call).
"""

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time
from typing import Callable, List, Optional, Sequence

import torch

from . import cases as _cases
from . import report
from .timing import PEAK_MEMORY_METHOD, CpuTimer, CudaTimer, llc_bytes, malloc_reuse, peak_extra_bytes

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "float64": torch.float64}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _git_commit() -> Optional[str]:
    try:
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        out = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=5)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def metadata(device: str, threads: int, quick: bool, repeats: int) -> dict:
    meta = {
        "device": torch.cuda.get_device_name() if device == "cuda" else cpu_model(),
        "torch": torch.__version__,
        "threads": threads,
        "date": datetime.date.today().isoformat(),
        "quick": quick,
        "repeats": repeats,
        "torch_ext_commit": _git_commit(),
    }
    if device == "cuda":
        meta["cuda"] = torch.version.cuda
    else:
        meta.update(cpu_count=os.cpu_count(), isa=torch.backends.cpu.get_cpu_capability(), llc_bytes=llc_bytes())
        # NB: other processes on the same cores stall a multi-threaded op at its barrier (see bench/NOTES.md);
        # the load average at the start and end of the run says how much.
        meta["loadavg_start"] = _loadavg()
    return meta


def _loadavg() -> Optional[float]:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def run(device: str = "cpu", ops: Sequence[str] = _cases.ALL_OPS, dtypes: Sequence[torch.dtype] = (torch.float32,),
        quick: bool = False, threads: Optional[int] = None, repeats: Optional[int] = None,
        sizes: Optional[Sequence[int]] = None, malloc: str = "default", log=print,
        on_result: Optional[Callable[[dict, List[dict]], None]] = None, compile: bool = False) -> dict:
    """Runs the benchmark; returns {"device", "torch", "threads", ..., "results": [...]}. sizes (element
    counts) replaces the default grid. on_result(meta, results so far) is called after each case. compile:
    also time torch.compile of ATen's side at each case's largest size (compiled_ms, compile_s)."""
    import torch_ext  # noqa: F401  (registers torch.ops.torch_ext)

    threads = threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    if device == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("torch_ext.bench: --device cuda, but CUDA is not available")
        repeats = repeats or (10 if quick else 20)
        timer = CudaTimer(repeats)
    else:
        repeats = repeats or (9 if quick else 21)
        timer = CpuTimer(threads, repeats, case_budget_s=4.0 if quick else 12.0)
    ops = list(ops)
    meta = metadata(device, threads, quick, repeats)
    meta["peak_memory_method"] = PEAK_MEMORY_METHOD[device]
    if device == "cpu":
        meta["allocator"] = malloc
    if sizes is None:
        todo = _cases.make_cases(device, ops, dtypes, quick)
    else:
        todo = _custom_sizes(device, ops, dtypes, sizes)

    compiled_cases = {id(c) for c in _largest_cases(todo)} if compile else set()
    meta["compiled"] = bool(compile)
    log(f"torch_ext.bench: {meta['device']}, torch {meta['torch']}, {threads} threads, {len(todo)} cases, "
        f"median of {repeats} interleaved repeats"
        + (f", {meta.get('isa')} kernels, load average {meta['loadavg_start']}" if device == "cpu" else ""))
    log("  speedup = torch ms / ours ms; GB/s = the op's minimum bytes / ours ms; "
        "copy = clone() of as many bytes, same run")
    log(report.header())
    results: List[dict] = []
    t_start = time.time()
    for i, case in enumerate(todo, 1):
        r = {"op": case.op, "pass": case.pass_, "dtype": str(case.dtype).replace("torch.", ""),
             "shape": list(case.shape), "dim": case.dim, "layout": case.layout, "variant": case.variant,
             "bytes": case.bytes}
        try:
            built = case.build()
        except (RuntimeError, NotImplementedError, AttributeError) as e:
            r["skipped"] = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
            results.append(r)
            log(report.row(i, len(todo), r))
            continue
        try:
            built.check()
            r["check"] = "ok"
        except AssertionError as e:
            r["check"] = str(e).splitlines()[0][:160]
        except (RuntimeError, NotImplementedError) as e:
            r["skipped"] = f"{type(e).__name__}: {str(e).splitlines()[0][:120]}"
            results.append(r)
            log(report.row(i, len(todo), r))
            continue
        src = built.copy_src
        fns = {"ours": built.ours, "torch": built.torch, "copy": src.clone}
        if id(case) in compiled_cases:
            fns["compiled"], r["compile_s"] = _compiled(built.torch)
        t = timer.time(fns, working_set=case.bytes)
        # One more call of each side, untimed (the profiler's bookkeeping would distort a timed one).
        r.update(ours_peak_bytes=peak_extra_bytes(built.ours, device),
                 torch_peak_bytes=peak_extra_bytes(built.torch, device))
        del built, src, fns
        r.update(ours_ms=t["ours"] * 1e3, torch_ms=t["torch"] * 1e3, speedup=t["torch"] / t["ours"],
                 gbps=case.bytes / t["ours"] / 1e9, copy_gbps=case.bytes / t["copy"] / 1e9, copy_ms=t["copy"] * 1e3,
                 flushed=timer.flushed, repeats=timer.used_repeats,
                 # The fastest repeat of each: interference from other processes only adds time.
                 ours_min_ms=timer.minima["ours"] * 1e3, torch_min_ms=timer.minima["torch"] * 1e3,
                 copy_min_ms=timer.minima["copy"] * 1e3)
        if "compiled" in t:
            r.update(compiled_ms=t["compiled"] * 1e3, speedup_compiled=t["compiled"] / t["ours"])
        results.append(r)
        log(report.row(i, len(todo), r))
        if on_result is not None:
            on_result(meta, results)
    meta["seconds"] = round(time.time() - t_start, 1)
    if device == "cpu":
        meta["loadavg_end"] = _loadavg()
    log("")
    log(report.summary(results, device))
    log(f"\n{len(todo)} cases in {meta['seconds']:.0f} s")
    return dict(meta, results=results)


def _largest_cases(todo: Sequence[_cases.Case]) -> List[_cases.Case]:
    """Of each (op, pass, dtype, variant, layout), the case with the most elements. Not hsoftmax's: its sides are
    modules and training steps with autograd.grad, beyond fullgraph compilation."""
    best = {}
    for c in todo:
        if c.op == _cases.HSOFTMAX:
            continue
        key = (c.op, c.pass_, c.dtype, c.variant, c.layout)
        if key not in best or c.numel > best[key].numel:
            best[key] = c
    return list(best.values())


def _compiled(fn: Callable[[], object]):
    """torch.compile of ATen's side (Inductor, default mode), compiled here by its first call; returns the
    compiled callable and the seconds the first call took."""
    # NB: every case's closure shares its builder's code object; without a reset, Dynamo would recompile
    # it per case until its cache limit, then silently run it eagerly.
    torch._dynamo.reset()
    compiled = torch.compile(fn, fullgraph=True, dynamic=False)
    start = time.time()
    compiled()
    return compiled, round(time.time() - start, 2)


def _custom_sizes(device, ops, dtypes, sizes) -> List[_cases.Case]:
    out = []
    for dtype in dtypes:
        for numel in sizes:
            for op in ops:
                if op == _cases.HSOFTMAX:  # the size is C, at the goals' N = 4096 and D = 256
                    out += _cases.hsoftmax_cases([(4096, 256, numel)], dtype, device)
                    continue
                if op in _cases.LOSS_OPS:  # rows of 1024 classes
                    for p in ("fwd", "fwd+bwd"):
                        out.append(_cases.Case(op, p, dtype, (max(1, numel // 1024), 1024), device))
                    continue
                for p in ("fwd", "bwd"):
                    if op in _cases.SOFTMAX_OPS:
                        for shape, dim, variant in _cases._softmax_shapes(device, numel):
                            out.append(_cases.Case(op, p, dtype, shape, device, "contiguous", dim, variant))
                    elif op == "prelu":
                        for variant, layout in (("C=1", "contiguous"), ("C=64", "contiguous"),
                                                ("C=64", "channels_last")):
                            out.append(_cases.Case(op, p, dtype, _cases.nchw(numel), device, layout, None, variant))
                    else:
                        out.append(_cases.Case(op, p, dtype, _cases.nchw(numel), device))
    return out


def _parse_list(text: str, allowed: Sequence[str], what: str) -> List[str]:
    items = [t for t in text.replace(" ", ",").split(",") if t]
    bad = [t for t in items if t not in allowed]
    if bad:
        raise SystemExit(f"torch_ext.bench: unknown {what} {bad}; choose from {list(allowed)}")
    return items


def main(argv: Optional[Sequence[str]] = None) -> int:
    p = argparse.ArgumentParser(prog="python -m torch_ext.bench", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    p.add_argument("--ops", default=",".join(_cases.ALL_OPS), help="comma-separated subset of: "
                   + ", ".join(_cases.ALL_OPS))
    p.add_argument("--dtype", default="float32,bfloat16", help="comma-separated: " + ", ".join(DTYPES))
    p.add_argument("--quick", action="store_true",
                   help="fewer sizes and repeats (each allocator mode of the CPU run in about 2 minutes on 2 cores)")
    p.add_argument("--json", metavar="PATH", help="write the results as JSON")
    p.add_argument("--plot", metavar="PATH", help="write a PNG of the speedups and bandwidth fractions")
    p.add_argument("--threads", type=int, help="CPU threads (default: torch.get_num_threads())")
    p.add_argument("--repeats", type=int, help="interleaved repeats per case (default: 9/21 CPU, 10/20 CUDA)")
    p.add_argument("--sizes", help="comma-separated element counts, replacing the default sizes (hsoftmax: "
                   "class counts C, at N = 4096 and D = 256)")
    p.add_argument("--compile", action="store_true",
                   help="also time torch.compile of ATen's side (Inductor) at each case's largest size: "
                   "compiled_ms and speedup_compiled in the JSON, ours against it in the summary")
    p.add_argument("--malloc", choices=["both", "default", "reuse"], default="both",
                   help="CPU: 'default' leaves glibc's allocator as a plain PyTorch program has it (each large "
                   "output a fresh mmap that page-faults in); 'reuse' keeps glibc from returning large blocks "
                   "to the OS, as jemalloc/tcmalloc do; 'both' (the default) runs every case under 'default', "
                   "then under 'reuse', and reports the goals for each")
    a = p.parse_args(argv)
    ops = _parse_list(a.ops, _cases.ALL_OPS, "op")
    dtypes = [DTYPES[d] for d in _parse_list(a.dtype, list(DTYPES), "dtype")]
    sizes = [int(s) for s in a.sizes.split(",")] if a.sizes else None
    sys.stdout.reconfigure(line_buffering=True)
    # NB: 'default' runs first: mallopt's reuse settings stay for the rest of the process.
    modes = ["default", "reuse"] if a.malloc == "both" else [a.malloc]
    if a.device != "cpu":
        modes = ["default"]
    results: List[dict] = []
    out: dict = {}
    allocators = {}
    seconds = 0.0
    for mode in modes:
        allocator = "glibc malloc as it comes (large blocks are fresh mmaps)"
        if mode == "reuse":
            allocator = malloc_reuse() or "default (not glibc: the reuse settings do not apply)"
        if a.device == "cpu":
            allocators[mode] = allocator
            print(f"\nallocator ({mode}): {allocator}")
        done_before = list(results)

        def partial(meta, mode_results, mode=mode, done_before=done_before):
            # NB: the JSON is rewritten after every case, so a run cut short (a time limit) keeps what it measured.
            if a.json:
                rows = done_before + [dict(r, malloc=mode) for r in mode_results]
                report.write_json(a.json, dict(meta, malloc=a.malloc, allocators=allocators, partial=True), rows)

        out = run(a.device, ops, dtypes, a.quick, a.threads, a.repeats, sizes, malloc=allocator, on_result=partial,
                  compile=a.compile)
        results += [dict(r, malloc=mode) for r in out.pop("results")]
        seconds += out["seconds"]
    out["seconds"] = round(seconds, 1)
    if a.device == "cpu":
        out.pop("allocator", None)
        out.update(malloc=a.malloc if len(modes) > 1 else modes[0], allocators=allocators)
        if len(modes) > 1:
            print("\n" + report.goals_by_mode(results))
    if a.json:
        report.write_json(a.json, out, results)
        print(f"wrote {a.json}")
    if a.plot:
        # The plot shows the last mode (reuse, where both ran); the JSON has both.
        err = report.plot(a.plot, dict(out, plotted_malloc=modes[-1]),
                          [r for r in results if r.get("malloc", modes[-1]) == modes[-1]])
        if err:
            report.warn(err)
        else:
            print(f"wrote {a.plot}")
    return 0


__all__ = ["run", "main"]
