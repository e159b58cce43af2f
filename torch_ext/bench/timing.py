"""Timers: torch.utils.benchmark on the CPU, CUDA events on the GPU.

Both time several callables of one case interleaved (ours, ATen's, the copy, in a rotating order,
repeat after repeat) and report each one's median, so that a burst of load on the machine hits all
of them alike.

Caches. A call that takes long enough to be timed alone is timed alone, after the last-level cache
(CPU) or L2 (GPU) has been flushed by writing a buffer twice its size: otherwise a working set that
fits in the cache would be served from it on every repeat and flatter the bandwidth. Calls too short
to time alone (latency-bound sizes) are timed in blocks of back-to-back calls, cache-hot, which is
how such small tensors are used.
"""

import ctypes
import ctypes.util
import os
import time
from typing import Callable, Dict, List, Optional

import torch
import torch.utils.benchmark as tbench

# A CPU call at least this long is timed alone (after a flush); shorter ones in blocks of about kBlockS.
_CPU_SINGLE_S = 50e-6
_CPU_BLOCK_S = 2e-3


def malloc_reuse() -> Optional[str]:
    """Makes glibc's malloc keep freed memory for reuse: no mmap for large blocks (M_MMAP_MAX = 0) and
    no trimming of the heap (M_TRIM_THRESHOLD = INT_MAX). Returns a description, or None if this is not
    glibc.

    NB: by default glibc serves each block over 32 MB (the output of every large case) with a fresh
    mmap, so every call page-faults its whole output in and the kernel zeroes it first: on the 2-core
    machine that costs more than the op itself (a 32 MB clone takes 36 ms instead of 12 ms) and hides
    the kernels behind the allocator, the same for torch_ext, ATen and the copy. Reusing memory is what
    jemalloc/tcmalloc (the usual CPU deployment) and PyTorch's CUDA caching allocator do."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return None
    M_TRIM_THRESHOLD, M_MMAP_MAX = -1, -4
    if mallopt(M_MMAP_MAX, 0) != 1 or mallopt(M_TRIM_THRESHOLD, 2**31 - 1) != 1:
        return None
    return "glibc malloc, M_MMAP_MAX=0 M_TRIM_THRESHOLD=INT_MAX (freed memory is reused, no page faults per call)"


def llc_bytes() -> int:
    """The CPU's last-level cache size (Linux sysfs), 32 MiB if it cannot be read."""
    best = 0
    base = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for entry in os.listdir(base):
            try:
                with open(os.path.join(base, entry, "size")) as f:
                    text = f.read().strip()
            except OSError:
                continue
            mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
            best = max(best, int(text.rstrip("KMG")) * mult)
    except OSError:
        pass
    return best or (32 << 20)


class CpuTimer:
    def __init__(self, threads: int, repeats: int, warmup: int = 2, case_budget_s: float = 10.0):
        self.threads = threads
        self.repeats = repeats
        self.warmup = warmup
        # Cases whose calls are slow (ATen's serial RNG, a slow baseline) get fewer repeats (at least
        # 5), so that one case does not take much longer than this.
        self.case_budget_s = case_budget_s
        self.used_repeats = repeats
        # Written (not just read) to evict dirty lines too: 2 x LLC bytes of float32.
        self._flush_buf = torch.empty(2 * llc_bytes() // 4, dtype=torch.float32)
        self.flushed = False

    def flush(self) -> None:
        self._flush_buf.fill_(1.0)

    def time(self, fns: Dict[str, Callable[[], object]], working_set: int) -> Dict[str, float]:
        """Median seconds per call of each callable, interleaved."""
        torch.set_num_threads(self.threads)
        numbers = {}
        timers = {}
        per_round = 0.0
        for name, fn in fns.items():
            for _ in range(self.warmup):
                fn()
            t0 = time.perf_counter()
            fn()
            t = time.perf_counter() - t0
            numbers[name] = 1 if t >= _CPU_SINGLE_S else max(1, int(_CPU_BLOCK_S / max(t, 1e-7)))
            per_round += t * numbers[name]
        # Flush when every call is timed alone and the working set could sit in the LLC.
        flush = all(n == 1 for n in numbers.values()) and working_set <= 2 * llc_bytes()
        self.flushed = flush
        for name, fn in fns.items():
            # `setup` runs before each timed block, outside the timing: the timed call starts from a
            # flushed cache.
            timers[name] = tbench.Timer(stmt="fn()", setup="flush()" if flush else "pass",
                                        globals={"fn": fn, "flush": self.flush}, num_threads=self.threads)
        samples: Dict[str, List[float]] = {name: [] for name in fns}
        names = list(fns)
        repeats = self.repeats
        if per_round * repeats > self.case_budget_s:
            repeats = max(min(5, repeats), int(self.case_budget_s / per_round))
        self.used_repeats = repeats
        for r in range(repeats):
            for k in range(len(names)):
                name = names[(r + k) % len(names)]
                samples[name].append(_block(timers[name], numbers[name]))
        self.minima = {name: min(v) for name, v in samples.items()}
        return {name: _median(v) for name, v in samples.items()}


class CudaTimer:
    def __init__(self, repeats: int, warmup: int = 3):
        self.repeats = repeats
        self.warmup = warmup
        props = torch.cuda.get_device_properties(torch.cuda.current_device())
        l2 = getattr(props, "L2_cache_size", 0) or (64 << 20)
        self._flush_buf = torch.empty(max(2 * l2, 256 << 20) // 4, dtype=torch.float32, device="cuda")
        self.flushed = True
        self.used_repeats = repeats

    def time(self, fns: Dict[str, Callable[[], object]], working_set: int) -> Dict[str, float]:
        """Median seconds per call of each callable (CUDA events around each call, L2 flushed before it)."""
        for fn in fns.values():
            for _ in range(self.warmup):
                fn()
        torch.cuda.synchronize()
        names = list(fns)
        events: Dict[str, list] = {name: [] for name in names}
        for r in range(self.repeats):
            for k in range(len(names)):
                name = names[(r + k) % len(names)]
                self._flush_buf.zero_()
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                fns[name]()
                end.record()
                events[name].append((start, end))
        torch.cuda.synchronize()
        samples = {name: [s.elapsed_time(e) * 1e-3 for s, e in ev] for name, ev in events.items()}
        self.minima = {name: min(v) for name, v in samples.items()}
        return {name: _median(v) for name, v in samples.items()}


def _block(timer: tbench.Timer, number: int) -> float:
    """Seconds per call over one block of `number` calls.

    NB: Timer.timeit(number) first runs max(number // 100, 2) untimed calls of its own; the callables
    here are already warm, and for the large cases those calls would triple the run time. Its
    _timeit(number) is the timed block alone (same threads setting, same `setup`)."""
    from torch.utils.benchmark.utils import common

    if hasattr(timer, "_timeit") and hasattr(common, "set_torch_threads"):
        with common.set_torch_threads(timer._task_spec.num_threads):
            return timer._timeit(number) / number
    return timer.timeit(number).median


def _median(values: List[float]) -> float:
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


# ---------------------------------------------------------------------------------------------
# Peak memory

PEAK_MEMORY_METHOD = {
    "cuda": "torch.cuda.max_memory_allocated() after reset_peak_memory_stats(), minus memory_allocated() before the "
            "call",
    "cpu": "torch.profiler (profile_memory=True): the largest running sum of the CPU allocator's allocations and "
           "frees during the call (frees of blocks allocated before it are not reported)",
}


def peak_extra_bytes(fn: Callable[[], object], device: str) -> int:
    """The peak of the bytes one call of fn allocates beyond what was allocated before it: its intermediates and
    outputs live at the same time, at their most (bench/NOTES.md, "Peak memory"). One call, untimed."""
    if device == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        out = fn()
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated() - before
        del out
        return max(0, peak)
    from torch.profiler import ProfilerActivity, profile

    # NB: acc_events keeps the events past the profiler's cycle; the allocator's events are read from the Kineto
    # results, as the profiler's event list attributes most of them to the op that allocated and drops the rest.
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True, acc_events=True) as prof:
        out = fn()
        del out
    events = sorted((e for e in prof.profiler.kineto_results.events()
                     if e.name() == "[memory]" and e.device_type() == torch.autograd.DeviceType.CPU),
                    key=lambda e: e.start_ns())
    live = peak = 0
    for e in events:
        live += e.nbytes()  # negative for a free
        peak = max(peak, live)
    return peak
