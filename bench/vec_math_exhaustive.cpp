// Exhaustive accuracy check of csrc/ops/cpu/vec_math.h's fast_math::exp, expm1 and log1p: every one of
// the 2^32 float inputs against the double-precision result, for one CPU capability. Prints the largest
// error in ulps of the exact result and counts special values (NaN, +-inf, signed zeros, overflow) that
// differ from C's. About two minutes per function on one core. From the repository root:
//
//   T=$(python -c 'import torch, os; print(os.path.dirname(torch.__file__))')
//   g++ -O2 -std=gnu++17 -fopenmp -mavx512f -mavx512bw -mavx512vl -mavx512dq -mfma -mf16c \
//       -DCPU_CAPABILITY=AVX512 -DCPU_CAPABILITY_AVX512 -I$T/include -I$T/include/torch/csrc/api/include \
//       -Icsrc bench/vec_math_exhaustive.cpp -o /tmp/vec_math_exhaustive -L$T/lib -lc10 -Wl,-rpath,$T/lib
//   /tmp/vec_math_exhaustive expm1      # or exp, log1p
//
// (AVX2: -mavx2 -mfma -mf16c -DCPU_CAPABILITY=AVX2 -DCPU_CAPABILITY_AVX2; DEFAULT: no -m flags.)

#include <omp.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>

#include "ops/cpu/vec_math.h"

using torch_ext::ops::cpu::fast_math::FVec;
namespace fm = torch_ext::ops::cpu::fast_math;

// The spacing of floats at the exact result ref (subnormal spacing below 2^-126).
static double ulp_of(double ref) {
  const double a = std::fabs(static_cast<float>(ref));
  if (a < 1.1754943508222875e-38) {
    return std::ldexp(1.0, -149);
  }
  int e;
  std::frexp(a, &e);
  return std::ldexp(1.0, e - 24);
}

int main(int argc, char** argv) {
  const char* fn = argc > 1 ? argv[1] : "expm1";
  const int which = std::strcmp(fn, "exp") == 0 ? 0 : std::strcmp(fn, "expm1") == 0 ? 1 : 2;
  constexpr int64_t kChunk = 1 << 16;
  double worst = 0;
  uint32_t worst_bits = 0;
  long specials_wrong = 0, over_1ulp = 0;
#pragma omp parallel
  {
    double l_worst = 0;
    uint32_t l_bits = 0;
    long l_wrong = 0, l_over = 0;
    alignas(64) static thread_local float in[kChunk], out[kChunk];
#pragma omp for schedule(dynamic, 1)
    for (int64_t chunk = 0; chunk < (int64_t{1} << 32) / kChunk; ++chunk) {
      for (int64_t i = 0; i < kChunk; ++i) {
        const uint32_t b = static_cast<uint32_t>(chunk * kChunk + i);
        std::memcpy(&in[i], &b, 4);
      }
      for (int64_t i = 0; i < kChunk; i += FVec::size()) {
        const FVec v = FVec::loadu(in + i);
        (which == 0 ? fm::exp(v) : which == 1 ? fm::expm1(v) : fm::log1p(v)).store(out + i);
      }
      for (int64_t i = 0; i < kChunk; ++i) {
        const double x = in[i];
        const double ref = which == 0 ? std::exp(x) : which == 1 ? std::expm1(x) : std::log1p(x);
        const float rf = static_cast<float>(ref);
        const float y = out[i];
        if (std::isnan(ref) || std::isinf(rf) || rf == 0) {
          const bool ok = std::isnan(ref) ? std::isnan(y) : (y == rf && std::signbit(y) == std::signbit(rf));
          l_wrong += !ok;
          continue;
        }
        if (!std::isfinite(y)) {
          ++l_wrong;
          continue;
        }
        const double err = std::fabs(static_cast<double>(y) - ref) / ulp_of(ref);
        l_over += err > 1.0;
        if (err > l_worst) {
          l_worst = err;
          std::memcpy(&l_bits, &in[i], 4);
        }
      }
    }
#pragma omp critical
    {
      if (l_worst > worst) {
        worst = l_worst;
        worst_bits = l_bits;
      }
      specials_wrong += l_wrong;
      over_1ulp += l_over;
    }
  }
  float wx;
  std::memcpy(&wx, &worst_bits, 4);
  std::printf("%s: max error %.4f ulp at x = %.9g (0x%08x); %ld inputs over 1 ulp; %ld special values wrong\n", fn,
              worst, wx, worst_bits, over_1ulp, specials_wrong);
  return specials_wrong == 0 ? 0 : 1;
}
