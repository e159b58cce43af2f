#pragma once
// CPU kernels are compiled once per ISA (DEFAULT, AVX2, AVX512: torch_ext_add_cpu_kernels in CMakeLists.txt) and
// picked at run time for the CPU capability ATen reports (ATEN_CPU_CAPABILITY overrides it, as for ATen's own
// kernels). This header is the one coupling to ATen's CPU dispatch: at::get_cpu_capability(), the name of the
// capability ATen's DispatchStub uses.
//
//   struct SoftmaxKernel { using Fn = void (*)(const at::Tensor& out, const at::Tensor& in); };  // outside the ISA
//   // in the kernel file (every build):
//   TORCH_EXT_REGISTER_CPU_KERNEL(SoftmaxKernel, &softmax_loop);
//   // at the call (any build):
//   cpu_kernel<SoftmaxKernel>()(out, in);

#include <ATen/Version.h>
#include <c10/macros/Macros.h>
#include <c10/util/Exception.h>

#include <string>

namespace torch_ext::ops::cpu {

enum class Isa : int { kDefault = 0, kAvx2 = 1, kAvx512 = 2 };
constexpr int kIsaCount = 3;

// One slot per ISA for the kernel Key (a type outside the per-ISA namespace, so every build fills the same table).
template <typename Key>
struct IsaTable {
  using Fn = typename Key::Fn;

  static Fn* slots() {
    static Fn table[kIsaCount] = {};
    return table;
  }

  // The best kernel for this CPU: that of its capability, or of the next lower ISA that was compiled.
  static Fn best() {
    static const Fn chosen = [] {
      const std::string capability = at::get_cpu_capability();
      int isa = capability == "AVX512" ? 2 : capability == "AVX2" ? 1 : 0;
      for (; isa >= 0; --isa) {
        if (slots()[isa] != nullptr) {
          return slots()[isa];
        }
      }
      TORCH_INTERNAL_ASSERT(false, "torch_ext: no CPU kernel was compiled for this op");
      return Fn{};
    }();
    return chosen;
  }
};

template <typename Key>
struct RegisterIsaKernel {
  RegisterIsaKernel(Isa isa, typename Key::Fn fn) { IsaTable<Key>::slots()[static_cast<int>(isa)] = fn; }
};

template <typename Key>
typename Key::Fn cpu_kernel() {
  return IsaTable<Key>::best();
}

inline namespace CPU_CAPABILITY {
// The ISA of this build (CPU_CAPABILITY_<ISA>, defined by CMake for each build of a kernel file).
#if defined(CPU_CAPABILITY_AVX512)
constexpr Isa kThisIsa = Isa::kAvx512;
#elif defined(CPU_CAPABILITY_AVX2)
constexpr Isa kThisIsa = Isa::kAvx2;
#else
constexpr Isa kThisIsa = Isa::kDefault;
#endif
}  // namespace CPU_CAPABILITY

}  // namespace torch_ext::ops::cpu

// Registers this build's kernel for Key (at namespace scope, in a kernel file).
#define TORCH_EXT_REGISTER_CPU_KERNEL(Key, fn) \
  static const ::torch_ext::ops::cpu::RegisterIsaKernel<Key> C10_ANONYMOUS_VARIABLE(torch_ext_cpu_kernel_)( \
      ::torch_ext::ops::cpu::kThisIsa, fn)
