// torch_ext._C: the Python module's small non-op surface (pybind11). Importing it loads
// libtorch_ext_ops.so, whose static initializers register torch.ops.torch_ext.*.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "torch_ext.h"

PYBIND11_MODULE(_C, m) {
  m.doc() = "torch_ext native module";
  m.def("build_info", &torch_ext::build_info,
        "How the op library was built: versions, CUDA archs, CPU kernel ISAs (compiled and in use).");
}
