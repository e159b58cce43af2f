#pragma once
// The elementwise activations built by the generic code of common/elementwise_op.h: one row each.

#include <torch/library.h>

#include "ops/elementwise/elu.h"
#include "ops/elementwise/leaky_relu.h"
#include "ops/elementwise/logsigmoid.h"
#include "ops/elementwise/relu.h"
#include "ops/elementwise/sigmoid.h"
#include "ops/elementwise/softplus.h"
#include "ops/elementwise/step.h"
#include "ops/elementwise/tanh.h"

namespace torch_ext::ops::elementwise {

template <typename... Ops>
struct OpList {
  // f.template operator()<Op>() for every row.
  template <typename F>
  static void for_each(F&& f) {
    (f.template operator()<Ops>(), ...);
  }
};

using ElementwiseOps =
    OpList<EluOp, SoftplusOp, SigmoidOp, TanhOp, ReluOp, LeakyReluOp, LogSigmoidOp, SignOp, HeavisideOp>;

// Registers Kernels<Op>'s forward, inplace (where the row has an in-place op) and backward for every row, in a
// TORCH_LIBRARY_IMPL block of one dispatch key.
template <template <typename, typename> class Kernels>
void impl_kernels(torch::Library& m) {
  ElementwiseOps::for_each([&]<typename Op>() {
    using K = Kernels<Op, typename Op::Params>;
    m.impl(Op::name, TORCH_FN(K::forward));
    if constexpr (has_inplace<Op>()) {
      m.impl(Names<Op>::inplace(), TORCH_FN(K::inplace));
    }
    m.impl(Names<Op>::backward(), backward_kernel<Op, &K::backward>());
  });
}

}  // namespace torch_ext::ops::elementwise
