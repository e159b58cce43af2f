"""torch_ext: hand-written CPU and CUDA kernels for classic activations, as torch ops.

Importing the package loads the op library, which registers ``torch.ops.torch_ext.*``.
"""

import pathlib as _pathlib

import torch  # (torch's libraries must be loaded before the op library)


def _check_torch_release(built_file: _pathlib.Path, imported: str) -> None:
    """The library is compiled against one torch release (torch has no stable C++ ABI across releases):
    under another one, say so, rather than fail on an undefined symbol while loading it."""
    if not built_file.exists():  # a source tree never built: importing _C says so
        return
    built = built_file.read_text().strip()

    def release(version: str) -> str:
        return ".".join(version.split("+")[0].split(".")[:2])

    if release(built) != release(imported):
        raise ImportError(
            f"torch_ext was built against torch {built}, but torch {imported} is imported. "
            "Rebuild torch_ext against this torch (pip install --no-build-isolation . from its source), "
            f"or install torch {release(built)}.*"
        )


# setup.py writes the file beside the library it builds.
_check_torch_release(_pathlib.Path(__file__).with_name("lib") / "torch_version.txt", torch.__version__)

from . import _C  # noqa: E402  (links libtorch_ext_ops.so, whose static initializers register the ops)
from . import _vmap, functional, hsoftmax_tree, inductor, nn  # noqa: E402,F401  (_vmap registers the batching rules)

__version__ = "0.1.0"


def build_info() -> dict:
    """How the op library was built: versions, CUDA archs, CPU kernel ISAs (compiled and in use)."""
    return dict(_C.build_info())


__all__ = ["functional", "hsoftmax_tree", "inductor", "nn", "build_info", "__version__"]
