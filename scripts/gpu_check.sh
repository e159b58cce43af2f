#!/usr/bin/env bash
# One-call GPU check for an H100/H200 machine (CUDA torch in python3, nvcc, no network):
# build for arch 9.0 with every core, run the whole test suite with CUDA, compute-sanitizer
# (memcheck, racecheck) over a small CUDA subset, the validation report and the benchmark. The
# benchmark runs first, alone on the GPU; then the sanitizers beside the test suite. Every log goes
# to OUTDIR. Meant to finish well inside 10 minutes: each step's limit is cut
# to what is left of GPU_CHECK_BUDGET_S (default 540), and a step with under 20 s left is skipped.
# GPU_CHECK_STEPS (default "all") may name a subset: build pytest validate memcheck racecheck bench.
# Usage: scripts/gpu_check.sh OUTDIR
set -uo pipefail
out=${1:?usage: scripts/gpu_check.sh OUTDIR}
mkdir -p "$out"
cd "$(dirname "$0")/.."
root=$PWD
py=${PYTHON:-python3}
status=0
budget=${GPU_CHECK_BUDGET_S:-540}
steps=" ${GPU_CHECK_STEPS:-all} "
wanted() { [[ $steps == *" all "* || $steps == *" $1 "* ]]; }
step() {  # step NAME TIMEOUT_S CMD...: runs CMD with a time limit, logs to OUTDIR/NAME.log
  local name=$1 limit=$2; shift 2
  local left=$((budget - SECONDS))
  if [ $left -lt 20 ]; then echo "== $name: skipped, $left s of the budget left"; status=1; return 1; fi
  [ $limit -le $left ] || limit=$left
  local t0=$SECONDS
  echo "== $name: $*"
  timeout "$limit" "$@" >"$out/$name.log" 2>&1
  local rc=$?
  echo "== $name: exit $rc in $((SECONDS - t0)) s"
  tail -n 5 "$out/$name.log"
  [ $rc -eq 0 ] || status=1
  return $rc
}

{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  $py -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, torch.cuda.get_device_name())'
  nvcc --version | tail -n 2
} >"$out/machine.txt" 2>&1
cat "$out/machine.txt"

# Pure-Python test dependencies missing from the GPU image travel as wheels in .whl/ (see README).
if compgen -G ".whl/*.whl" >/dev/null; then
  $py -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/gpu_check_site .whl/*.whl &&
    export PYTHONPATH=/tmp/gpu_check_site${PYTHONPATH:+:$PYTHONPATH}
fi

export TORCH_EXT_WITH_CUDA=1 TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0} MAX_JOBS=$(nproc)
export PYTHONPATH=$root${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
# GoogleTest may be missing there; the C++ tests then stay on the CPU machine.
[ -f /usr/include/gtest/gtest.h ] || export TORCH_EXT_BUILD_TESTS=0

step build 420 $py setup.py build_ext --inplace || { echo "build failed"; exit 1; }

# Errors must raise, not crash: on one GPU image, messages that format numbers crashed the process.
# If the probe fails, record why (compilers, loaded runtime libraries, a cuda-gdb backtrace) and rebuild
# with the system compiler, if it differs from the one used, before running anything else.
probe() {
  local d rc=0
  for d in cpu cuda; do timeout 60 $py scripts/error_probe.py $d >>"$out/error_probe.log" 2>&1 || rc=1; done
  return $rc
}
diagnose() {
  echo "== compilers and environment"
  env | grep -E '^(CC|CXX|CUDAHOSTCXX|PATH|LD_LIBRARY_PATH|LD_PRELOAD|CXXFLAGS|LDFLAGS)=' || true
  ls -la /usr/bin/g++* /usr/bin/c++ /opt/gcc/bin 2>&1 | head -20
  for c in /opt/gcc/bin/g++ /usr/bin/g++; do [ -x $c ] && $c --version | head -1; done
  echo "== runtime libraries loaded with torch_ext"
  $py -c 'import torch_ext; print("\n".join(sorted({l.split()[-1] for l in open("/proc/self/maps") if any(k in l for k in ("libstdc++", "libgcc_s", "gomp"))})))'
  readelf -d torch_ext/lib/libtorch_ext_ops.so | grep -E "RUNPATH|RPATH|NEEDED"
  for f in $($py -c 'import torch_ext; print("\n".join(sorted({l.split()[-1] for l in open("/proc/self/maps") if "libstdc++" in l})))'); do
    echo "$f: newest $(strings "$f" | grep -E '^GLIBCXX_3\.4\.[0-9]+$' | sort -V | tail -1)"
  done
  if command -v cuda-gdb >/dev/null; then
    echo "== cuda-gdb backtrace of the probe (cpu)"
    timeout 60 cuda-gdb -batch -ex run -ex bt --args $py scripts/error_probe.py cpu 2>&1 | grep -v "^\[New Thread\|^\[Thread" | tail -60
  fi
}
probe_failed=0
if ! probe; then
  echo "error probe FAILED (see error_probe.log, error_probe_diag.log)"; status=1; probe_failed=1
  diagnose >"$out/error_probe_diag.log" 2>&1
fi
tail -n 12 "$out/error_probe.log"
if [ "${TORCH_EXT_BUILD_TESTS:-1}" != 0 ] && wanted ctest; then
  step cpp_build 120 cmake --build build/cmake -j "$MAX_JOBS" && step ctest 120 ctest --test-dir build/cmake -j "$MAX_JOBS" --output-on-failure
fi
# The benchmark first, while it has the GPU to itself.
if [ -d torch_ext/bench ] && wanted bench; then
  step bench 150 $py -m torch_ext.bench --device cuda ${GPU_CHECK_BENCH_ARGS:-} --json "$out/bench_cuda.json" --plot "$out/bench_cuda.png"
fi
wanted validate && step validate 60 $py -m torch_ext.validate --device cuda

# Then the sanitizers in the background, beside the test suite, every run at once (racecheck is slow:
# one after another they outlast the budget). A small CUDA subset of each op that still reaches every
# kernel (vector, scalar, strided and reduction paths); softmax's in three parts. GPU_CHECK_SANITIZE_OPS
# picks the ops.
declare -A subset=(
  [elu]='tests/test_elu.py -k "cuda and (float32 or bfloat16) and (test_backward_mixed_layouts or test_raw_backward_vs_aten)"'
  [elementwise]='tests/test_op_db.py -k "cuda and (float32 or bfloat16) and (test_forward_parity or test_backward_parity or test_inplace_matches_out_of_place or test_special_values) and (contiguous or odd_1d or transposed) and not (prelu or rrelu or softmax)"'
  [prelu]='tests/test_prelu.py -k "cuda and (float32 or bfloat16) and (test_backward_op or test_run_to_run) and (long_rows or large_NCL or large_channels_last or many_channels_last)"'
  [rrelu]='tests/test_rrelu.py -k "cuda and float32 and (test_train_gradient_equals_slope or test_cuda_unaligned_and_odd_sizes or test_train_forward_contract)"'
  [softmax-rows]='tests/test_softmax.py -k "cuda and float32 and (test_long_rows or test_row_lengths)"'
  [softmax-columns]='tests/test_softmax.py -k "cuda and float32 and (test_inner_sizes or test_row_counts)"'
  [softmax-special]='tests/test_softmax.py -k "cuda and float32 and test_special_rows"'
  [losses]='tests/test_losses.py -k "cuda and (float32 or bfloat16) and test_parity_with_torch"'
  [hsoftmax]='tests/test_hsoftmax.py -k "cuda and (test_nll_and_log_prob or test_gradients_match or test_probabilities)"'
)
sanitizers=()
if command -v compute-sanitizer >/dev/null; then
  for tool in memcheck racecheck; do
    wanted $tool || continue
    for part in softmax-rows softmax-columns softmax-special elementwise elu prelu rrelu losses hsoftmax; do
      [[ " ${GPU_CHECK_SANITIZE_OPS:-softmax elementwise elu prelu rrelu losses hsoftmax} " == *" ${part%%-*} "* ]] || continue
      eval "args=(${subset[$part]})"
      step "${tool}_$part" 300 compute-sanitizer --tool $tool --error-exitcode 9 $py -m pytest -q -p no:cacheprovider "${args[@]}" \
        >"$out/${tool}_$part.txt" 2>&1 &
      sanitizers+=("$!:${tool}_$part")
    done
  done
fi
# The CPU cases run in CI; here the CUDA ones (and every test that needs a GPU to mean anything).
wanted pytest && step pytest 360 $py -m pytest tests -q -p no:cacheprovider -n "${GPU_CHECK_PYTEST_N:-8}" -rfE -k "${GPU_CHECK_PYTEST_K:-cuda}"
for entry in "${sanitizers[@]}"; do
  wait "${entry%%:*}" || status=1
  cat "$out/${entry#*:}.txt"
done

# Last, with what is left of the budget: if errors crashed, rebuild with the system compiler (when it
# differs from the one used) and probe again, to tell a toolchain problem from one of ours.
used=$(readlink -f "$(command -v "${CXX:-c++}")")
if [ $probe_failed = 1 ] && [ -x /usr/bin/g++ ] && [ "$(readlink -f /usr/bin/g++)" != "$used" ]; then
  echo "== retrying the build with /usr/bin/g++ (was $used)"
  step build_system_gcc 300 env CXX=/usr/bin/g++ CC=/usr/bin/gcc CUDAHOSTCXX=/usr/bin/g++ \
    TORCH_EXT_BUILD_DIR="$root/build/cmake-system-gcc" $py setup.py build_ext --inplace &&
    echo "== probe after the rebuild with /usr/bin/g++" >>"$out/error_probe.log" &&
    { probe && echo "error probe passes with /usr/bin/g++" || echo "error probe still fails with /usr/bin/g++"; }
  tail -n 6 "$out/error_probe.log"
fi
echo "gpu_check: $([ $status = 0 ] && echo all steps passed || echo SOME STEPS FAILED)"
exit $status
