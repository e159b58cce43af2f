#!/usr/bin/env bash
# Installs torch_ext from a CMake build into a temporary prefix, then configures, builds and runs
# examples/cpp_consumer against that prefix as an outside project would: find_package(TorchExt).
# Given a PYTHON, it also builds examples/run_model on its own against the same prefix and runs a
# TorchScript model of torch_ext layers with it (tests/cpp/run_model_test.py exports the model).
#
#   bash tests/cpp/consumer_test.sh BUILD_DIR TORCH_CMAKE_PREFIX [PYTHON]
#
# BUILD_DIR: the main CMake build directory (already built). TORCH_CMAKE_PREFIX: where Torch's
# CMake config lives (python -c 'import torch; print(torch.utils.cmake_prefix_path)'). PYTHON: one
# whose torch is that of the build, with torch_ext importable (to export the model).
# Ninja is taken from $NINJA, else PATH, else the repo's .venv; cmake from $CMAKE, else PATH; the
# compiler from $CXX, as CMake does. Exits non-zero on any failure. Removes its temporary directory
# unless CONSUMER_KEEP_TMP=1 (for a look at a failure).
set -euo pipefail

if [[ $# -lt 2 || $# -gt 3 ]]; then
  echo "usage: $0 BUILD_DIR TORCH_CMAKE_PREFIX [PYTHON]" >&2
  exit 2
fi

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
src="$repo/examples/cpp_consumer"
python="${3:-}"
build_dir="$(cd "$1" 2>/dev/null && pwd)" || { echo "consumer_test: build directory $1 does not exist" >&2; exit 2; }
torch_prefix="$(cd "$2" 2>/dev/null && pwd)" || { echo "consumer_test: Torch CMake prefix $2 does not exist" >&2; exit 2; }
cmake_bin="${CMAKE:-cmake}"

[[ -f "$build_dir/cmake_install.cmake" ]] || { echo "consumer_test: $build_dir is not a configured CMake build" >&2; exit 2; }
[[ -f "$src/CMakeLists.txt" ]] || { echo "consumer_test: $src/CMakeLists.txt is missing" >&2; exit 2; }

ninja="${NINJA:-}"
if [[ -z "$ninja" ]]; then
  ninja="$(command -v ninja || true)"
fi
if [[ -z "$ninja" && -x "$repo/.venv/bin/ninja" ]]; then
  ninja="$repo/.venv/bin/ninja"
fi
[[ -n "$ninja" && -x "$ninja" ]] || { echo "consumer_test: ninja not found (set NINJA)" >&2; exit 2; }

# NB: Torch's CMake config reads the CUDA archs from TORCH_CUDA_ARCH_LIST; without it, a CUDA
# torch on a machine with no GPU fails to configure.
export TORCH_CUDA_ARCH_LIST="${TORCH_CUDA_ARCH_LIST:-9.0}"

tmp="$(mktemp -d "${TMPDIR:-/tmp}/torch_ext_consumer.XXXXXX")"
cleanup() {
  if [[ "${CONSUMER_KEEP_TMP:-0}" == 1 ]]; then
    echo "consumer_test: kept $tmp" >&2
  else
    rm -rf "$tmp"
  fi
}
trap cleanup EXIT

echo "== install $build_dir -> $tmp/prefix"
"$cmake_bin" --install "$build_dir" --prefix "$tmp/prefix"

# Only the public headers are installed: torch_ext.h, nn/ and the op headers (no kernel internals).
installed="$(cd "$tmp/prefix/include/torch_ext" && find . -type f | sort | tr '\n' ' ')"
for header in $installed; do
  case "$header" in
    ./ops/*/* | ./nn/*/*) echo "consumer_test: an internal header was installed: $header" >&2; exit 1 ;;
    ./torch_ext.h | ./nn/*.h | ./ops/*.h) ;;
    *) echo "consumer_test: an internal header was installed: $header" >&2; exit 1 ;;
  esac
done
[[ "$installed" == *"./ops/elu.h"* && "$installed" != *"./ops/out_overload.h"* ]] ||
  { echo "consumer_test: the installed headers are not the public ones: $installed" >&2; exit 1; }

# configure_and_build SRC BUILD: an outside project that knows only the two prefixes.
configure_and_build() {
  echo "== configure $1"
  "$cmake_bin" -S "$1" -B "$2" -G Ninja \
    -DCMAKE_MAKE_PROGRAM="$ninja" \
    -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_PREFIX_PATH="$tmp/prefix;$torch_prefix"
  echo "== build $1"
  "$cmake_bin" --build "$2" -j "${CONSUMER_JOBS:-2}"
}

# The program must load the installed library, not the one in the build tree.
check_loads_installed() {
  if command -v ldd >/dev/null; then
    local lib
    lib="$(ldd "$1" | awk '/libtorch_ext_ops/ {print $3}')"
    echo "== $(basename "$1") loads ${lib:-<no libtorch_ext_ops>}"
    [[ "$lib" == "$tmp/prefix/"* ]] || { echo "consumer_test: $1 does not load the installed libtorch_ext_ops" >&2; exit 1; }
  fi
}

configure_and_build "$src" "$tmp/build"
check_loads_installed "$tmp/build/consumer"
echo "== run consumer"
"$tmp/build/consumer"

if [[ -n "$python" ]]; then
  # examples/run_model as its own project (find_package(TorchExt) when it is not inside torch_ext's
  # build), running a scripted model of torch_ext layers that Python exports.
  configure_and_build "$repo/examples/run_model" "$tmp/run_model_build"
  check_loads_installed "$tmp/run_model_build/run_model"
  echo "== run a scripted model with the installed run_model"
  "$python" "$repo/tests/cpp/run_model_test.py" --program "$tmp/run_model_build/run_model" --format torchscript
else
  echo "== no PYTHON given: the scripted-model run is skipped"
fi
echo "== consumer_test: OK"
