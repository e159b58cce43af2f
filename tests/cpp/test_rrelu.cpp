// C++ tests of RReLU (rrelu, rrelu_, rrelu_with_noise, rrelu_backward) through the public C++ API:
// eval against ATen's leaky_relu (the reference), training slopes inside [lower, upper] and equal to
// the Philox draws of math/rrelu_math.h from the generator's (seed, offset), reproducible with a seeded
// generator, and gradients equal to the slopes. Grids, not copies: suites are parametrized over dtype.

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/core/PhiloxRNGEngine.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <gtest/gtest.h>

#include "tensor_assertions.h"
#include <torch/torch.h>
#include <torch_ext/ops/math/rrelu_math.h>
#include <torch_ext/torch_ext.h>

#include <cmath>
#include <cstdint>
#include <iomanip>
#include <limits>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace {

using torch_ext_test::AllClose;
using torch_ext_test::dtype_name;
using torch_ext_test::ExpectC10ErrorContaining;
using torch_ext_test::Identical;
using torch_ext_test::to_vector;

// ---------------------------------------------------------------------------------------------
// Helpers

// Values of both signs with the edges (+-0, NaN, +-inf) spread through them; 37 x 129 leaves vector tails.
at::Tensor rrelu_input(at::ScalarType dtype, const at::Device& device = at::kCPU) {
  at::Tensor v = torch::randn({37, 129}, torch::dtype(at::kDouble)) * 3.0;
  const double inf = std::numeric_limits<double>::infinity();
  const double edges[] = {0.0, -0.0, std::numeric_limits<double>::quiet_NaN(), inf, -inf};
  at::Tensor flat = v.view({-1});
  for (int64_t i = 0; i < flat.numel(); i += 11) flat[i] = edges[(i / 11) % 5];
  return v.to(device, dtype);
}


at::ScalarType opmath_of(at::ScalarType t) { return t == at::kDouble ? at::kDouble : at::kFloat; }

// A bound as the kernels see it: in the op-math type, then (for a stored slope) rounded to the dtype.
double bound_in(double v, at::ScalarType dtype) {
  return torch::tensor(v, torch::dtype(opmath_of(dtype))).to(dtype).to(at::kDouble).item<double>();
}

at::Generator cpu_generator(uint64_t seed) { return at::detail::createCPUGenerator(seed); }

// The slopes the kernels draw for n elements from (seed, offset): math/rrelu_math.h run on the host.
template <typename T>
std::vector<double> philox_slopes(uint64_t seed, uint64_t offset, int64_t n, double lower, double upper) {
  const auto c = torch_ext::math::rrelu_coefs<T>(lower, upper);
  std::vector<double> out(n);
  for (int64_t i = 0; i < n; ++i) {
    const auto block = torch_ext::math::rrelu_random_group(seed, offset, static_cast<uint64_t>(i) / 4);
    out[i] = static_cast<double>(torch_ext::math::rrelu_slope(block.v[i % 4], c));
  }
  return out;
}

constexpr double kLower = 0.1;
constexpr double kUpper = 0.3;

// ---------------------------------------------------------------------------------------------
// The Philox of math/rrelu_math.h is ATen's Philox4x32-10 (at::philox_engine), block for block.

TEST(RReluPhilox, MatchesATenPhiloxEngine) {
  const uint64_t seeds[] = {0, 1, 67280421310721ull, 0xDEADBEEFCAFEF00Dull, ~0ull};
  const uint64_t subsequences[] = {0, 1, 5, 0xFFFFFFFFull, 0x100000000ull, 0x123456789ABCDEFull};
  const uint64_t blocks[] = {0, 1, 3, 0xFFFFFFFFull, 0x100000001ull};
  for (const uint64_t seed : seeds) {
    for (const uint64_t sub : subsequences) {
      for (const uint64_t block : blocks) {
        at::Philox4_32 engine(seed, sub, block);
        const auto ours = torch_ext::math::philox4x32_10(seed, sub, block);
        for (int k = 0; k < 4; ++k) {
          EXPECT_EQ(ours.v[k], engine()) << "seed " << seed << " subsequence " << sub << " block " << block << " lane "
                                         << k;
        }
      }
    }
  }
}

TEST(RReluPhilox, SlopeMappingStaysInBounds) {
  // The extreme draws: 0 gives lower, all ones gives (nearly) upper and never more.
  for (const auto& [lower, upper] : std::vector<std::pair<double, double>>{
           {0.125, 1.0 / 3.0}, {-0.7, 1.3}, {0.2, 0.2}, {-1e-30, 1e30}, {0.1, std::nextafter(0.1, 1.0)}}) {
    const auto cf = torch_ext::math::rrelu_coefs<float>(lower, upper);
    const auto cd = torch_ext::math::rrelu_coefs<double>(lower, upper);
    for (const uint32_t bits : {0u, 1u, 255u, 256u, 0x80000000u, 0xFFFFFF00u, 0xFFFFFFFFu}) {
      const float rf = torch_ext::math::rrelu_slope(bits, cf);
      const double rd = torch_ext::math::rrelu_slope(bits, cd);
      EXPECT_GE(rf, cf.lower) << bits;
      EXPECT_LE(rf, cf.upper) << bits;
      EXPECT_GE(rd, cd.lower) << bits;
      EXPECT_LE(rd, cd.upper) << bits;
    }
    EXPECT_EQ(torch_ext::math::rrelu_slope(0u, cf), cf.lower);
    EXPECT_EQ(torch_ext::math::rrelu_slope(0u, cd), cd.lower);
  }
}

// ---------------------------------------------------------------------------------------------
// Per dtype: eval against at::leaky_relu, training against the Philox draws.

class RReluTest : public ::testing::TestWithParam<at::ScalarType> {
 protected:
  void SetUp() override { torch::manual_seed(0); }
  at::ScalarType dtype() const { return GetParam(); }
};

TEST_P(RReluTest, EvalMatchesLeakyRelu) {
  const at::Tensor x = rrelu_input(dtype());
  for (const auto& [lower, upper] :
       std::vector<std::pair<double, double>>{{0.125, 1.0 / 3.0}, {0.1, 0.3}, {-0.6, -0.2}}) {
    SCOPED_TRACE("lower " + std::to_string(lower) + " upper " + std::to_string(upper));
    const double slope = (lower + upper) / 2;
    EXPECT_TRUE(Identical(torch_ext::rrelu(x, lower, upper, /*training=*/false), at::leaky_relu(x, slope)));
    at::Tensor y = x.clone();
    EXPECT_TRUE(torch_ext::rrelu_(y, lower, upper, false).is_same(y));
    EXPECT_TRUE(Identical(y, at::leaky_relu(x, slope)));

    const at::Tensor xg = x.clone().requires_grad_();
    const at::Tensor g = torch::randn(x.sizes(), torch::dtype(dtype()));
    torch_ext::rrelu(xg, lower, upper, false).backward(g);
    const at::Tensor xr = x.clone().requires_grad_();
    at::leaky_relu(xr, slope).backward(g);
    // leaky_relu's gradient but at NaN inputs, where torch_ext's is NaN (leaky_relu's g * slope).
    EXPECT_TRUE(Identical(xg.grad(), at::where(x.isnan(), x, xr.grad())));
  }
  // The defaults are the eval-mode (1/8, 1/3).
  EXPECT_TRUE(Identical(torch_ext::rrelu(x), at::leaky_relu(x, (0.125 + 1.0 / 3.0) / 2)));
}

TEST_P(RReluTest, TrainingSlopesInBoundsAndOutputIsXTimesSlope) {
  const at::Tensor x = rrelu_input(dtype());
  auto [out, noise] = torch_ext::detail::rrelu_with_noise(x, kLower, kUpper, /*training=*/true, cpu_generator(3));
  ASSERT_EQ(noise.sizes(), x.sizes());
  const auto xv = to_vector(x), yv = to_vector(out), nv = to_vector(noise);
  const double lo = bound_in(kLower, dtype()), hi = bound_in(kUpper, dtype());
  int64_t negatives = 0;
  double sum = 0.0;
  for (size_t i = 0; i < xv.size(); ++i) {
    if (xv[i] <= 0) {  // 0, -0 and -inf included
      EXPECT_GE(nv[i], lo) << i;
      EXPECT_LE(nv[i], hi) << i;
      ++negatives;
      sum += nv[i];
    } else if (std::isnan(xv[i])) {  // the noise is dy/dx: NaN (ATen's is 1)
      EXPECT_TRUE(std::isnan(nv[i]) && std::isnan(yv[i])) << i;
    } else {
      EXPECT_EQ(nv[i], 1.0) << "x = " << xv[i] << " at " << i;
      EXPECT_EQ(yv[i], xv[i]) << i;
    }
  }
  ASSERT_GT(negatives, 1000);
  EXPECT_NEAR(sum / negatives, (kLower + kUpper) / 2, 0.01);
  if (dtype() == at::kFloat || dtype() == at::kDouble) {
    // The noise is the very slope: y == x * noise where x <= 0.
    EXPECT_TRUE(Identical(out, at::where(x <= 0, x * noise, x)));
  }
}

TEST_P(RReluTest, TrainingDrawsPhiloxFromTheGenerator) {
  // CPU: the kernel takes seed = the generator's next random64() and offset 0, and element i (in the
  // output's memory) takes Philox lane i % 4 of block (0, i / 4): reproduce it from a clone of the generator.
  at::Generator gen = cpu_generator(1234);
  uint64_t seed;
  {
    at::Generator copy = gen.clone();
    std::lock_guard<std::mutex> lock(copy.mutex());
    seed = copy.get<at::CPUGeneratorImpl>()->random64();
  }
  const at::Tensor x = -(torch::rand({3, 1001}, torch::dtype(at::kDouble)) + 0.01).to(dtype());
  const auto [out, noise] = torch_ext::detail::rrelu_with_noise(x, kLower, kUpper, true, gen);
  const auto expected = dtype() == at::kDouble ? philox_slopes<double>(seed, 0, x.numel(), kLower, kUpper)
                                               : philox_slopes<float>(seed, 0, x.numel(), kLower, kUpper);
  const at::Tensor expected_noise =
      torch::tensor(expected, torch::dtype(at::kDouble)).to(opmath_of(dtype())).to(dtype()).view(x.sizes());
  EXPECT_TRUE(Identical(noise, expected_noise));
  // The output multiplies by the op-math slope, rounded once.
  const at::Tensor slopes = torch::tensor(expected, torch::dtype(at::kDouble)).to(opmath_of(dtype())).view(x.sizes());
  EXPECT_TRUE(Identical(out, (x.to(opmath_of(dtype())) * slopes).to(dtype())));
}

TEST_P(RReluTest, TrainingReproducibleWithSeededGenerator) {
  const at::Tensor x = rrelu_input(dtype());
  at::Generator gen = cpu_generator(42);
  const at::Tensor a = torch_ext::rrelu(x, kLower, kUpper, true, gen);
  const at::Tensor b = torch_ext::rrelu(x, kLower, kUpper, true, gen);
  EXPECT_FALSE(Identical(a, b)) << "successive calls must draw new slopes";
  gen.set_current_seed(42);
  EXPECT_TRUE(Identical(torch_ext::rrelu(x, kLower, kUpper, true, gen), a));
  EXPECT_TRUE(Identical(torch_ext::rrelu(x, kLower, kUpper, true, gen), b));
  EXPECT_TRUE(Identical(torch_ext::rrelu(x, kLower, kUpper, true, cpu_generator(42)), a));
  // The default generator: torch::manual_seed reproduces it.
  torch::manual_seed(7);
  const at::Tensor c = torch_ext::rrelu(x, kLower, kUpper, true);
  torch::manual_seed(7);
  EXPECT_TRUE(Identical(torch_ext::rrelu(x, kLower, kUpper, true), c));
  // In place draws what out of place draws.
  at::Tensor y = x.clone();
  EXPECT_TRUE(torch_ext::rrelu_(y, kLower, kUpper, true, cpu_generator(42)).is_same(y));
  EXPECT_TRUE(Identical(y, a));
}

TEST_P(RReluTest, TrainingIndependentOfThreadCount) {
  const at::Tensor x = (torch::randn({3, 40009}, torch::dtype(at::kDouble)) * 3).to(dtype());
  const int threads = at::get_num_threads();
  std::vector<at::Tensor> results;
  for (const int n : {1, 2, 3}) {
    at::set_num_threads(n);
    results.push_back(std::get<1>(torch_ext::detail::rrelu_with_noise(x, kLower, kUpper, true, cpu_generator(9))));
  }
  at::set_num_threads(threads);
  EXPECT_TRUE(Identical(results[1], results[0]));
  EXPECT_TRUE(Identical(results[2], results[0]));
}

TEST_P(RReluTest, BackwardIsTheSlope) {
  const at::Tensor x = rrelu_input(dtype()).requires_grad_();
  const at::Tensor y = torch_ext::rrelu(x, kLower, kUpper, true, cpu_generator(5));
  y.backward(torch::ones_like(y));
  const at::Tensor noise =
      std::get<1>(torch_ext::detail::rrelu_with_noise(x.detach(), kLower, kUpper, true, cpu_generator(5)));
  EXPECT_TRUE(Identical(x.grad(), noise));
  EXPECT_TRUE(Identical(y.detach(), std::get<0>(torch_ext::detail::rrelu_with_noise(x.detach(), kLower, kUpper, true,
                                                                                    cpu_generator(5)))));
  // The backward op: grad * noise in training (ATen's rrelu_with_noise_backward as the reference).
  const at::Tensor g = torch::randn(x.sizes(), torch::dtype(dtype()));
  EXPECT_TRUE(Identical(torch_ext::detail::rrelu_backward(g, std::nullopt, noise, kLower, kUpper, true, false),
                   at::rrelu_with_noise_backward(g, x.detach(), noise, kLower, kUpper, true, false)));
  // In place: the gradient flows through the same slopes.
  const at::Tensor leaf = x.detach().clone().requires_grad_();
  at::Tensor z = leaf * 1;
  torch_ext::rrelu_(z, kLower, kUpper, true, cpu_generator(5));
  z.backward(torch::ones_like(z));
  EXPECT_TRUE(Identical(leaf.grad(), noise));
}

TEST_P(RReluTest, EqualBoundsIsLeakyRelu) {
  const at::Tensor x = rrelu_input(dtype());
  EXPECT_TRUE(Identical(torch_ext::rrelu(x, 0.2, 0.2, true), at::leaky_relu(x, 0.2)));
}

INSTANTIATE_TEST_SUITE_P(Dtypes, RReluTest, ::testing::Values(at::kFloat, at::kDouble, at::kHalf, at::kBFloat16),
                         [](const ::testing::TestParamInfo<at::ScalarType>& info) { return dtype_name(info.param); });

// ---------------------------------------------------------------------------------------------
// CUDA: the slopes are the same formula from the CUDA generator's (seed, offset).

TEST(RReluCuda, TrainingDrawsPhiloxFromTheGenerator) {
  if (!torch::cuda::is_available()) {
    GTEST_SKIP() << "no CUDA device";
  }
  at::Generator gen = at::globalContext().defaultGenerator(c10::Device(at::kCUDA, 0));
  uint64_t seed, offset;
  {
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_current_seed(99);
    seed = gen.current_seed();
    offset = gen.get_offset();
  }
  const at::Tensor x = -(torch::rand({5, 1001}, torch::dtype(at::kFloat)) + 0.01f).to(at::kCUDA);
  const at::Tensor noise = std::get<1>(torch_ext::detail::rrelu_with_noise(x, kLower, kUpper, true));
  const auto expected = philox_slopes<float>(seed, offset, x.numel(), kLower, kUpper);
  EXPECT_TRUE(
      Identical(noise.cpu(), torch::tensor(expected, torch::dtype(at::kDouble)).to(at::kFloat).view(x.sizes())));
  EXPECT_EQ(gen.get_offset(), offset + 4);
}

// ---------------------------------------------------------------------------------------------
// Errors: c10::Error with words that say what went wrong.

TEST(RReluErrors, BadBounds) {
  const at::Tensor x = torch::randn({8});
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const bool training : {false, true}) {
    ExpectC10ErrorContaining([&] { torch_ext::rrelu(x, 0.5, 0.1, training); }, "lower <= upper");
    ExpectC10ErrorContaining([&] { torch_ext::rrelu(x, 0.5, 0.1, training); }, "lower = 0.5 and upper = 0.1");
    ExpectC10ErrorContaining([&] { torch_ext::rrelu(x, nan, 0.3, training); }, "to be finite numbers");
    ExpectC10ErrorContaining([&] { torch_ext::rrelu(x, 0.1, nan, training); }, "upper = nan");
    at::Tensor y = x.clone();
    ExpectC10ErrorContaining([&] { torch_ext::rrelu_(y, 0.5, 0.1, training); }, "lower <= upper");
    EXPECT_TRUE(Identical(y, x)) << "a refused rrelu_ must leave its input alone";
  }
  EXPECT_NO_THROW(torch_ext::rrelu(x, 0.2, 0.2, true));
}

TEST(RReluErrors, InplaceEvalBackwardWithNegativeSlope) {
  const at::Tensor leaf = torch::randn({8}).requires_grad_();
  at::Tensor y = leaf * 1;
  torch_ext::rrelu_(y, -0.6, -0.2, false);
  ExpectC10ErrorContaining([&] { y.sum().backward(); }, "negative slope");
}

TEST(RReluErrors, InplaceOnLeafRequiringGrad) {
  at::Tensor leaf = torch::randn({8}).requires_grad_();
  const at::Tensor before = leaf.detach().clone();
  ExpectC10ErrorContaining([&] { torch_ext::rrelu_(leaf, kLower, kUpper, true); }, "rrelu_: expected self not to be a leaf tensor that requires grad");
  EXPECT_TRUE(Identical(leaf.detach(), before));
}

TEST(RReluErrors, BackwardArguments) {
  const at::Tensor g = torch::randn({4, 5});
  ExpectC10ErrorContaining([&] { torch_ext::detail::rrelu_backward(g, g, std::nullopt, kLower, kUpper, true, false); },
                        "needs the noise");
  ExpectC10ErrorContaining([&] { torch_ext::detail::rrelu_backward(g, std::nullopt, g, kLower, kUpper, false, false); },
                        "needs self_or_result");
  ExpectC10ErrorContaining(
      [&] {
        torch_ext::detail::rrelu_backward(g, std::nullopt, torch::randn({5, 4}), kLower, kUpper, true, false);
      },
      "shape");
}

TEST(RReluErrors, IntegerInputs) {
  const at::Tensor x = torch::ones({5}, torch::dtype(at::kLong));
  ExpectC10ErrorContaining([&] { torch_ext::rrelu(x); }, "floating-point");
  ExpectC10ErrorContaining([&] { torch_ext::rrelu(x, kLower, kUpper, true); }, "floating-point");
}

// ---------------------------------------------------------------------------------------------
// Registration.

TEST(RReluRegistration, OpsAreInTheDispatcher) {
  auto& d = c10::Dispatcher::singleton();
  for (const char* name : {"torch_ext::rrelu", "torch_ext::rrelu_", "torch_ext::rrelu_with_noise",
                           "torch_ext::rrelu_with_noise_", "torch_ext::rrelu_backward"}) {
    const auto op = d.findSchema({name, ""});
    ASSERT_TRUE(op.has_value()) << name;
    EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::CPU)) << name;
    EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::Meta)) << name;
    EXPECT_TRUE(op->hasKernelForDispatchKey(c10::DispatchKey::Autograd)) << name;
  }
  const auto rrelu = d.findSchema({"torch_ext::rrelu", ""});
  EXPECT_TRUE(rrelu->hasTag(at::Tag::nondeterministic_seeded));
}

TEST(RReluRegistration, MetaKernelsGiveShapeAndStrides) {
  const at::Tensor x = torch::empty({6, 7}, torch::device(at::kMeta)).t();
  for (const bool training : {false, true}) {
    const at::Tensor y = torch_ext::rrelu(x, kLower, kUpper, training);
    EXPECT_TRUE(y.is_meta());
    EXPECT_EQ(y.sizes(), x.sizes());
    EXPECT_EQ(y.strides(), x.strides());
    const auto [out, noise] = torch_ext::detail::rrelu_with_noise(x, kLower, kUpper, training);
    EXPECT_EQ(noise.strides(), x.strides());
  }
}

}  // namespace
