// The one TORCH_LIBRARY block of the torch_ext namespace; each op's <op>.cpp adds its schemas
// with TORCH_LIBRARY_FRAGMENT.

#include <torch/library.h>

TORCH_LIBRARY(torch_ext, m) {}
