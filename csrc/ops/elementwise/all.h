#pragma once
// The elementwise activations built by the generic code of common/elementwise_op.h: one row each.

#include "ops/elementwise/elu.h"
#include "ops/elementwise/softplus.h"

namespace torch_ext::ops::elementwise {

template <typename... Ops>
struct OpList {
  // f.template operator()<Op>() for every row.
  template <typename F>
  static void for_each(F&& f) {
    (f.template operator()<Ops>(), ...);
  }
};

using ElementwiseOps = OpList<EluOp, SoftplusOp>;

}  // namespace torch_ext::ops::elementwise
