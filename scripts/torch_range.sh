#!/usr/bin/env bash
# The other end of the supported torch range, as a user with that torch gets torch_ext: a venv with
# torch TORCH_VERSION, a copy of the tracked sources built against it (CPU and CUDA kernels, C++20), then
#   - the tests: the pytest files of what depends on the torch release (RANGE_TESTS: registration, dispatch,
#     autograd, autocast, compile, export, inductor, TorchScript, DDP, the layers, out=, errors, the op and loss
#     tables' generic tests, hierarchical softmax's ops) and ctest's (the GoogleTest suite, the installed package used from C++ through
#     find_package, the demo's C++ inference: run_model on AOTInductor and TorchScript models). The kernels'
#     own files (per-op kernel paths, fuzzing, large tensors, the benchmark and demo) run against the
#     development venv's torch only, as does the sanitizer build (make sanitize): the whole suite twice did
#     not fit CI's time;
#   - the packaging: a wheel built against this torch requires `torch==X.Y.*`, installs and works outside
#     the sources; a plain `pip install .` stops at once with the message that says what to do; the
#     development build (against another torch release) fails to import here with a message naming both
#     versions.
#
#   bash scripts/torch_range.sh PYTHON TORCH_VERSION DIR      (make test-torch-range)
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$(pwd)"
python="${1:?usage: $0 PYTHON TORCH_VERSION DIR}"
torch_version="${2:?usage: $0 PYTHON TORCH_VERSION DIR}"
dir="${3:?usage: $0 PYTHON TORCH_VERSION DIR}"
mkdir -p "$dir"
dir="$(cd "$dir" && pwd)"
venv="$dir/venv"
src="$dir/src"
jobs="${MAX_JOBS:-$(nproc)}"
release="$(echo "$torch_version" | cut -d. -f1-2)"

echo "== torch $torch_version: venv $venv"
if [[ ! -f "$venv/.requirements" || "$venv/.requirements" -ot requirements.txt ]]; then
  [[ -x "$venv/bin/python" ]] || "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install -q --upgrade pip
  "$venv/bin/python" -m pip install -q "torch==$torch_version" -r requirements.txt
  touch "$venv/.requirements"
fi
export PATH="$venv/bin:$PATH"
py="$venv/bin/python"
"$py" -c 'import torch; print(f"torch {torch.__version__} (CUDA {torch.version.cuda})")'

echo "== sources -> $src"
# The tracked and not-ignored files, as a clone has them; build outputs in the copy are kept between runs.
mkdir -p "$src"
git ls-files -z --cached --others --exclude-standard | grep -zv '^bench/results/' \
  | while IFS= read -r -d '' f; do [[ -e "$f" ]] && printf '%s\0' "$f"; done \
  | tar --null -T - -cf - | tar -xf - -C "$src"

cd "$src"
echo "== build against torch $torch_version (pip install --no-build-isolation -e .; C++ tests and examples)"
"$py" -m pip install --no-build-isolation --no-deps -q -e .
cmake --build build/cmake -j "$jobs"
"$py" -c 'import torch_ext; print("build_info:", torch_ext.build_info())'

RANGE_TESTS=(test_library.py test_build_info.py test_packaging.py test_op_db.py test_ops.py test_autograd.py
             test_autocast.py test_compile.py test_compile_model.py test_export.py test_inductor.py test_jit.py
             test_distributed.py test_nn.py test_convert.py test_out.py test_losses.py test_errors.py test_hsoftmax.py)
echo "== tests (${RANGE_TESTS[*]})"
"$py" -m pytest "${RANGE_TESTS[@]/#/tests/}" -n "$jobs" -q -p no:cacheprovider
(cd build/cmake && ctest --output-on-failure -j "$jobs")

echo "== packaging"
rm -rf dist && "$py" -m pip wheel --no-build-isolation --no-deps -q -w dist .
wheel=(dist/torch_ext-*.whl)
requires="$("$py" -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); print("".join(l for n in z.namelist() if n.endswith(".dist-info/METADATA") for l in z.read(n).decode().splitlines(True) if l.startswith("Requires-Dist: torch")))' "${wheel[0]}")"
echo "$requires"
grep -qx "Requires-Dist: torch==$release.\*" <<<"$requires" \
  || { echo "torch_range: the wheel should require torch==$release.*" >&2; exit 1; }

# The wheel installed as a user installs it (not editable), imported from outside the sources and used.
"$py" -m pip install -q --no-deps --force-reinstall "${wheel[0]}"
(cd "$dir" && "$py" - <<'PY'
import torch
import torch.nn.functional as F

import torch_ext

assert "site-packages" in torch_ext.__file__, torch_ext.__file__
x = torch.randn(4096, dtype=torch.float64, requires_grad=True)
torch.testing.assert_close(torch_ext.functional.elu(x), F.elu(x))
assert torch.autograd.gradcheck(torch_ext.functional.softplus, (x[:16],))
print("installed wheel:", torch_ext.__file__, "built against torch", torch_ext.build_info()["torch_version"])
PY
)

log="$dir/pip-install-isolated.log"
if "$py" -m pip install --no-deps . >"$log" 2>&1; then
  echo "torch_range: a plain 'pip install .' (isolated, no torch) should stop" >&2; exit 1
fi
grep -q "pip install --no-build-isolation ." "$log" \
  || { echo "torch_ext: a plain 'pip install .' failed without saying what to do:" >&2; cat "$log" >&2; exit 1; }
echo "plain pip install . stops with: $(grep -m1 'building needs torch' "$log" | sed 's/^ *//')"

cd "$repo"
other="$(cat torch_ext/lib/torch_version.txt 2>/dev/null || true)"
if [[ -n "$other" && "$(echo "$other" | cut -d. -f1-2)" != "$release" ]]; then
  # The repository first on the path: its torch_ext, not the copy installed (editable) into this venv.
  if msg="$(cd "$repo" && "$py" -c 'import sys; sys.path.insert(0, "."); import torch_ext' 2>&1)"; then
    echo "torch_range: torch_ext built against torch $other imported under torch $torch_version" >&2; exit 1
  fi
  grep -q "built against torch $other, but torch $torch_version" <<<"$msg" \
    || { echo "torch_range: unclear error importing a build for another torch:" >&2; echo "$msg" >&2; exit 1; }
  echo "a build for torch $other under torch $torch_version: $(tail -1 <<<"$msg")"
fi
echo "== torch $torch_version: OK"
