#!/usr/bin/env bash
# Sets up what the build needs on a fresh machine: the system tools (a C++ compiler, GoogleTest) and a
# virtual environment with torch TORCH_VERSION and the Python requirements (CMake 3.26+ among them).
# Usage: scripts/setup.sh PYTHON VENV TORCH_VERSION
set -euo pipefail
python=${1:-python3}
venv=${2:-.venv}
torch_version=${3:?usage: scripts/setup.sh PYTHON VENV TORCH_VERSION}

missing=()
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
"$venv/bin/python" -m pip install -q "torch==$torch_version" -r requirements.txt
"$venv/bin/python" - <<'PY'
import torch
print(f"setup: torch {torch.__version__} (CUDA {torch.version.cuda})")
PY
