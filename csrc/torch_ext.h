#pragma once
// Public C++ header of torch_ext: #include <torch_ext/torch_ext.h>

#include <map>
#include <string>

#include "nn/activation.h"
#include "nn/hierarchical_softmax.h"
#include "nn/loss.h"
#include "ops/ops.h"

namespace torch_ext {

// How this library was built: version, torch version, CUDA version and archs, CPU kernel ISAs
// compiled and the one the dispatcher uses on this machine.
std::map<std::string, std::string> build_info();

}  // namespace torch_ext
