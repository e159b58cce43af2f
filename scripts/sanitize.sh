#!/usr/bin/env bash
# Builds the op library (CPU only) with its CPU kernels instrumented by AddressSanitizer (with LeakSanitizer)
# and UndefinedBehaviorSanitizer, for DEFAULT and the ISA this CPU runs (another would be compiled, never
# run), in its own build folder, and runs the whole GoogleTest suite against it in one process. Any report
# (heap overflow, use after free, leak, undefined behaviour) fails it. -O1, as the sanitizers' documentation
# advises; it also keeps this build's time down (-Wno-uninitialized: at -O1 GCC 12 warns inside its own
# avx512fintrin.h; the release build still reports the project's own).
#
#   bash scripts/sanitize.sh [VENV] [BUILD_DIR]     (make sanitize: .venv, build/sanitize)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv}"
build="${2:-build/sanitize}"
py="$venv/bin/python"
export PATH="$(cd "$venv" && pwd)/bin:$PATH"

torch_prefix="$("$py" -c 'import torch; print(torch.utils.cmake_prefix_path)')"
# The CPU kernels the dispatch picks here: ATen's capability, as cpu/isa_dispatch.h reads it.
isa="$("$py" -c 'import torch; c = torch.backends.cpu.get_cpu_capability(); print(c if c in ("AVX2", "AVX512") else "DEFAULT")')"
echo "== configure $build (address,undefined; CPU only, $isa kernels)"
cmake -S . -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG -Wno-uninitialized" \
  -DCMAKE_PREFIX_PATH="$torch_prefix" \
  -DTORCH_EXT_WITH_CUDA=OFF \
  -DTORCH_EXT_BUILD_EXAMPLES=OFF \
  -DTORCH_EXT_BUILD_TESTS=ON \
  -DTORCH_EXT_SANITIZE=address,undefined \
  -DTORCH_EXT_CPU_ISAS="$isa" \
  -DTORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}" >/dev/null
echo "== build"
cmake --build "$build" --target torch_ext_cpp_tests -j "${MAX_JOBS:-$(nproc)}"

# NB: libtorch is not built with the sanitizers. Its one-time allocations at load (registries,
# thread pools) are leaks to LeakSanitizer only if nothing points at them at exit; such a leak is
# suppressed by library in lsan.supp (none has been needed so far), so one in torch_ext still
# fails. ODR checks are off: ASan would compare this library's globals with uninstrumented copies
# in libtorch it cannot see.
supp="$(pwd)/scripts/lsan.supp"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:halt_on_error=1:detect_odr_violation=0:strict_init_order=1${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export LSAN_OPTIONS="suppressions=$supp:print_suppressions=0${LSAN_OPTIONS:+:$LSAN_OPTIONS}"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
# The suite passing means something only if the sanitizers are there and report: the binaries must
# load their runtimes, and a canary with a heap overflow must be caught.
# ldd's output is kept whole first: `ldd | grep -q` under pipefail fails at random when grep exits on
# its first match and ldd, still writing, dies of SIGPIPE.
for bin in "$build/torch_ext_cpp_tests" "$build/libtorch_ext_ops.so"; do
  libs="$(ldd "$bin")"
  for rt in libasan libubsan; do
    grep -q "$rt" <<<"$libs" || { echo "sanitize: $bin does not load $rt" >&2; exit 1; }
  done
done
canary="$build/sanitizer_canary"
printf '#include <cstdlib>\nint main(int argc, char**) { int* p = static_cast<int*>(std::malloc(4 * sizeof(int))); int v = p[argc + 3]; std::free(p); return v; }\n' |
  "${CXX:-c++}" -x c++ -fsanitize=address,undefined -g -o "$canary" -
if "$canary" 2>"$canary.log"; then
  echo "sanitize: the canary's heap overflow went unreported" >&2; exit 1
fi
grep -q "heap-buffer-overflow" "$canary.log" || { echo "sanitize: the canary failed without an ASan report:" >&2; cat "$canary.log" >&2; exit 1; }
echo "== the sanitizers are loaded and report (canary: heap-buffer-overflow caught)"

echo "== run $build/torch_ext_cpp_tests"
"$build/torch_ext_cpp_tests" --gtest_brief=1
echo "== sanitize: clean"
