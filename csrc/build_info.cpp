// torch_ext::build_info(): how this library was built, read from the macros the build set.

#include <ATen/Version.h>
#include <torch/version.h>

#include "torch_ext.h"

#ifdef TORCH_EXT_WITH_CUDA
#include <cuda_runtime_api.h>
#endif

#ifndef TORCH_EXT_VERSION
#define TORCH_EXT_VERSION "unknown"
#endif
#ifndef TORCH_EXT_CUDA_ARCHS
#define TORCH_EXT_CUDA_ARCHS ""
#endif
#ifndef TORCH_EXT_CPU_CAPABILITIES
#define TORCH_EXT_CPU_CAPABILITIES "DEFAULT"
#endif

namespace torch_ext {

std::map<std::string, std::string> build_info() {
  std::map<std::string, std::string> info;
  info["version"] = TORCH_EXT_VERSION;
  info["torch_version"] = TORCH_VERSION;
#ifdef TORCH_EXT_WITH_CUDA
  info["cuda"] = "ON";
  info["cuda_version"] = std::to_string(CUDART_VERSION / 1000) + "." + std::to_string(CUDART_VERSION % 1000 / 10);
  info["cuda_archs"] = TORCH_EXT_CUDA_ARCHS;
#else
  info["cuda"] = "OFF";
  info["cuda_version"] = "";
  info["cuda_archs"] = "";
#endif
  info["cpu_capabilities_compiled"] = TORCH_EXT_CPU_CAPABILITIES;
  // The ISA whose kernels cpu/isa_dispatch.h picks here: the best one this CPU supports, or the
  // one named by ATEN_CPU_CAPABILITY (ours are compiled for the same set as ATen's).
  info["cpu_capability"] = at::get_cpu_capability();
  return info;
}

}  // namespace torch_ext
