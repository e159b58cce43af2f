"""torch_ext: hand-written CPU and CUDA kernels for classic activations, as torch ops.

Importing the package loads the op library, which registers ``torch.ops.torch_ext.*``.
"""

import torch  # noqa: F401  (torch's libraries must be loaded before the op library)

from . import _C  # noqa: E402  (links libtorch_ext_ops.so, whose static initializers register the ops)
from . import _vmap, functional, nn  # noqa: E402,F401  (_vmap registers the batching rules)

__version__ = "0.1.0"


def build_info() -> dict:
    """How the op library was built: versions, CUDA archs, CPU kernel ISAs (compiled and in use)."""
    return dict(_C.build_info())


__all__ = ["functional", "nn", "build_info", "__version__"]
