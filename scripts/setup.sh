#!/usr/bin/env bash
# Sets up what the build needs on a fresh machine: the system tools (CMake, a C++ compiler,
# GoogleTest) and a virtual environment with the pinned Python requirements.
# Usage: scripts/setup.sh PYTHON VENV
set -euo pipefail
python=${1:-python3}
venv=${2:-.venv}

missing=()
command -v cmake >/dev/null || missing+=(cmake)
command -v g++ >/dev/null || missing+=(g++)
[ -f /usr/include/gtest/gtest.h ] || missing+=(libgtest-dev)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "setup: installing ${missing[*]} with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"
  else
    echo "setup: missing ${missing[*]}; install them (Debian: apt-get install ${missing[*]})" >&2
    exit 1
  fi
fi

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q -r requirements.txt
"$venv/bin/python" - <<'PY'
import torch
print(f"setup: torch {torch.__version__} (CUDA {torch.version.cuda})")
PY
