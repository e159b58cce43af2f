#pragma once
// The generic elementwise activation. An op is described once, by a struct (the "row"; see
// ops/elementwise/softplus.h for one), and the generic code builds from that description:
//   - the schemas (functional, in-place where the row has one, backward, and their out= overloads) and the
//     typed C++ API (ElementwiseApi<Op>)                                  ops/elementwise_ops.cpp
//   - the Meta kernels and the CUDA autocast kernel                        ops/elementwise_ops.cpp
//   - the CPU kernels, one build per ISA                                   ops/cpu/elementwise_ops_kernel.cpp
//   - the CUDA kernels                                                     ops/cuda/elementwise_ops_kernel.cu
//   - the autograd kernels: first and second order, forward-mode AD       ops/autograd/elementwise_ops_kernel.cpp
// Each of those files instantiates its part for every row of ElementwiseOps (ops/elementwise/all.h).
//
// A row provides:
//   name                   "softplus": the op; the in-place op is name + "_", the backward op name + "_backward"
//   schema, inplace_schema, backward_schema
//                          the schemas as ATen spells its op's (inplace_schema nullptr where there is none); the
//                          scalar arguments are the forward's parameters, in order (Params), and the backward's
//                          arguments are grad_output, the saved tensor and the same parameters, laid out as
//                          backward_layout says
//   saved_arg              the backward schema's name for the saved tensor ("self", "self_or_result", "output")
//   Params                 std::tuple of the forward's scalar parameters (double, bool, ...)
//   backward_from          what the backward reads: the input, the result, or either (an is_result argument)
//   backward_layout        where the saved tensor and is_result sit in the backward schema
//   autocast               the CUDA autocast policy of ATen's op
//   integer_inputs         what the forward does with an integer (or bool) input, as ATen's op: refuse it, compute
//                          in the default float dtype (sigmoid), or keep its dtype (relu)
//   coefs<T>(params...)    the op-math coefficients (T: float for half/bfloat16, double for double)
//   forward<M>(x, c), backward<IsResult, M>(g, b, c)
//                          the formulas of math/<op>_math.h, for a math policy M (CUDA: ScalarMath; CPU: the
//                          vector math of cpu/vec_math.h) and T the op-math scalar or CPU vector type
//   linear(x, c), linear_forward(x, c), linear_backward(g, c)    (optional, CPU only)
//                          a branch without transcendental functions: where linear(b) holds for every lane of a
//                          CPU vector, the forward is linear_forward(x) and the backward linear_backward(g)
//   check_params(op, params...)                                   (optional) the parameters' checks, by the
//                          forward's, the in-place op's and the backward's kernels (op: the op's name for the
//                          message)
//   check_backward(is_result, params...)                          (optional) the backward's parameter checks
//   backward_d_saved(gg, grad_output, b, is_result, params...)
//                          the double backward: the gradient of <gg, backward(grad_output, b)> with respect to b,
//                          in ATen ops (it is also the tangent of the backward with respect to b)

#include <ATen/Dispatch.h>
#include <ATen/core/Tensor.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <c10/core/CompileTimeFunctionPointer.h>
#include <c10/core/DefaultDtype.h>

#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "ops/common/checks.h"

namespace torch_ext::ops::elementwise {

enum class BackwardFrom {
  kInput,          // backward(grad_output, self, ...), as softplus_backward
  kResult,         // backward(grad_output, output), as sigmoid_backward
  kInputOrResult,  // backward(grad_output, ..., is_result, self_or_result): the in-place form saves the result
};

enum class BackwardLayout {
  kSavedFirst,  // (grad_output, saved, params... [, is_result])   softplus_backward, leaky_relu_backward
  kSavedLast,   // (grad_output, params..., is_result, saved)       elu_backward
};

enum class AutocastPolicy {
  kNone,          // runs in the input's dtype under autocast (no kernel: the key falls through)
  kCudaFloat32,   // on CUDA autocast's float32 list, as ATen's softplus
};

enum class IntegerInputs {
  kReject,   // floating inputs only (elu, softplus, leaky_relu)
  kToFloat,  // integer and bool inputs give a result of the default float dtype, as ATen's sigmoid and tanh
  kKeep,     // integer inputs (not bool) give a result of their own dtype, as ATen's relu; the backward is float
};

// The coefficients of a row without parameters.
struct NoCoefs {};

// The op's names, built once from the row's name.
template <typename Op>
struct Names {
  static const char* inplace() {
    static const std::string s = std::string(Op::name) + "_";
    return s.c_str();
  }
  static const char* backward() {
    static const std::string s = std::string(Op::name) + "_backward";
    return s.c_str();
  }
  static std::string qualified(const char* op) { return std::string("torch_ext::") + op; }
};

template <typename Op>
constexpr bool has_inplace() {
  return Op::inplace_schema != nullptr;
}

template <typename Op>
constexpr bool backward_has_is_result() {
  return Op::backward_from == BackwardFrom::kInputOrResult;
}

// The signatures of an op with scalar parameters P...: the forward, the in-place op and the backward in the
// layout of its schema, and the adapter from that layout to the one every generic kernel implements,
//   Impl(grad_output, saved, is_result, params...).
template <typename Op, typename Params = typename Op::Params>
struct Signatures;

template <typename Op, typename... P>
struct Signatures<Op, std::tuple<P...>> {
  using Forward = at::Tensor(const at::Tensor&, P...);
  using Inplace = void(at::Tensor&, P...);
  using BackwardImpl = at::Tensor(const at::Tensor&, const at::Tensor&, bool, P...);

  // The backward op's kernel in its schema's layout, from Impl.
  template <BackwardImpl* Impl>
  static at::Tensor saved_first(const at::Tensor& grad_output, const at::Tensor& saved, P... p) {
    return Impl(grad_output, saved, Op::backward_from == BackwardFrom::kResult, p...);
  }
  template <BackwardImpl* Impl>
  static at::Tensor saved_first_then_is_result(const at::Tensor& grad_output, const at::Tensor& saved, P... p,
                                               bool is_result) {
    return Impl(grad_output, saved, is_result, p...);
  }
  template <BackwardImpl* Impl>
  static at::Tensor saved_last(const at::Tensor& grad_output, P... p, bool is_result, const at::Tensor& saved) {
    return Impl(grad_output, saved, is_result, p...);
  }

  template <BackwardImpl* Impl>
  static constexpr auto backward_entry() {
    if constexpr (!backward_has_is_result<Op>()) {
      static_assert(Op::backward_layout == BackwardLayout::kSavedFirst);
      return &saved_first<Impl>;
    } else if constexpr (Op::backward_layout == BackwardLayout::kSavedFirst) {
      return &saved_first_then_is_result<Impl>;
    } else {
      return &saved_last<Impl>;
    }
  }

  // The backward op's own signature (that of backward_entry's function).
  using Backward = std::conditional_t<
      !backward_has_is_result<Op>(), at::Tensor(const at::Tensor&, const at::Tensor&, P...),
      std::conditional_t<Op::backward_layout == BackwardLayout::kSavedFirst,
                         at::Tensor(const at::Tensor&, const at::Tensor&, P..., bool),
                         at::Tensor(const at::Tensor&, P..., bool, const at::Tensor&)>>;
};

// The row's op-math coefficients for T from its parameters.
template <typename Op, typename T>
auto make_coefs(const typename Op::Params& params) {
  return std::apply([](auto... p) { return Op::template coefs<T>(p...); }, params);
}

template <typename Op, typename T>
using Coefs = decltype(make_coefs<Op, T>(std::declval<typename Op::Params>()));

// The backward op's kernel (for m.impl) from Impl(grad_output, saved, is_result, params...).
template <typename Op, typename Signatures<Op>::BackwardImpl* Impl>
constexpr auto backward_kernel() {
  return c10::CompileTimeFunctionPointer<typename Signatures<Op>::Backward,
                                         Signatures<Op>::template backward_entry<Impl>()>();
}

// The checks of the backward op's arguments, shared by its kernels (Meta, CPU, CUDA).
template <typename Op, typename... P>
void check_backward(const at::Tensor& grad_output, const at::Tensor& saved, bool is_result, P... p) {
  check_elementwise_backward(Names<Op>::backward(), grad_output, Op::saved_arg, saved);
  if constexpr (requires { Op::check_params(Names<Op>::backward(), p...); }) {
    Op::check_params(Names<Op>::backward(), p...);
  }
  if constexpr (requires { Op::check_backward(is_result, p...); }) {
    Op::check_backward(is_result, p...);
  }
}

inline bool is_integer_dtype(at::ScalarType t) {
  return t == at::kByte || t == at::kChar || t == at::kShort || t == at::kInt || t == at::kLong;
}

// The checks of the forward's self (op: the forward or the in-place op's name), shared by its kernels (Meta, CPU,
// CUDA). An in-place op takes the dtypes whose result keeps the input's dtype (a kToFloat row's: floating only).
template <typename Op>
void check_input(const char* op, const at::Tensor& self, bool inplace) {
  TORCH_CHECK(self.defined(), op, ": expected self to be a tensor, got an undefined tensor");
  const at::ScalarType t = self.scalar_type();
  if (Op::integer_inputs == IntegerInputs::kKeep && is_integer_dtype(t)) {
    return;
  }
  if (Op::integer_inputs == IntegerInputs::kToFloat && !inplace && (is_integer_dtype(t) || t == at::kBool)) {
    return;
  }
  if (Op::integer_inputs == IntegerInputs::kKeep) {
    TORCH_CHECK(is_supported_floating(t), op,
                ": expected self to be a floating-point (float32, float64, float16 or bfloat16) or integer tensor, "
                "got ", t);
  } else if (Op::integer_inputs == IntegerInputs::kToFloat && !inplace) {
    TORCH_CHECK(is_supported_floating(t), op,
                ": expected self to be a floating-point (float32, float64, float16 or bfloat16), integer or bool "
                "tensor, got ", t);
  } else {
    check_floating(op, "self", self);
  }
}

// The checks of the forward's arguments, shared by its kernels (Meta, CPU, CUDA).
template <typename Op, typename... P>
void check_forward(const at::Tensor& self, P... p) {
  check_input<Op>(Op::name, self, /*inplace=*/false);
  if constexpr (requires { Op::check_params(Op::name, p...); }) {
    Op::check_params(Op::name, p...);
  }
}

// The forward's result dtype for an input of dtype t: the default float dtype for an integer or bool input of a
// kToFloat row, else t.
template <typename Op>
at::ScalarType result_dtype(at::ScalarType t) {
  if (Op::integer_inputs == IntegerInputs::kToFloat && !at::isFloatingType(t)) {
    return c10::typeMetaToScalarType(c10::get_default_dtype());
  }
  return t;
}

// The tensor the forward's kernels compute on: self, or self in the result dtype (its layout kept).
template <typename Op>
at::Tensor forward_input(const at::Tensor& self) {
  const at::ScalarType t = result_dtype<Op>(self.scalar_type());
  return t == self.scalar_type() ? self : self.to(t);
}

// f.template operator()<scalar_t>() for the dtype t of a forward kernel's input: the floating dtypes, and the
// integer ones for a kKeep row.
template <typename Op, typename F>
void dispatch_forward_dtypes(at::ScalarType t, F&& f) {
  if constexpr (Op::integer_inputs == IntegerInputs::kKeep) {
    AT_DISPATCH_ALL_TYPES_AND2(at::kHalf, at::kBFloat16, t, Op::name, [&] { f.template operator()<scalar_t>(); });
  } else {
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, t, Op::name,
                                    [&] { f.template operator()<scalar_t>(); });
  }
}

// The checks of the in-place op's arguments, shared by its kernels (Meta, CPU, CUDA).
template <typename Op, typename... P>
void check_inplace(const at::Tensor& self, P... p) {
  check_input<Op>(Names<Op>::inplace(), self, /*inplace=*/true);
  check_no_internal_overlap(Names<Op>::inplace(), "self", self);
  if constexpr (requires { Op::check_params(Names<Op>::inplace(), p...); }) {
    Op::check_params(Names<Op>::inplace(), p...);
  }
}

// The typed C++ API: calls through the dispatcher, so autograd, autocast and the device kernels apply.
template <typename Op, typename Params = typename Op::Params>
struct ElementwiseApi;

template <typename Op, typename... P>
struct ElementwiseApi<Op, std::tuple<P...>> {
  static at::Tensor forward(const at::Tensor& self, P... p) {
    static auto op = c10::Dispatcher::singleton()
                         .findSchemaOrThrow(Names<Op>::qualified(Op::name).c_str(), "")
                         .template typed<at::Tensor(const at::Tensor&, P...)>();
    return op.call(self, p...);
  }

  static at::Tensor& inplace(at::Tensor& self, P... p) {
    static auto op = c10::Dispatcher::singleton()
                         .findSchemaOrThrow(Names<Op>::qualified(Names<Op>::inplace()).c_str(), "")
                         .template typed<void(at::Tensor&, P...)>();
    op.call(self, p...);
    return self;
  }

  // is_result is ignored unless the row's backward reads either (BackwardFrom::kInputOrResult).
  static at::Tensor backward(const at::Tensor& grad_output, const at::Tensor& saved, bool is_result, P... p) {
    static auto op = c10::Dispatcher::singleton()
                         .findSchemaOrThrow(Names<Op>::qualified(Names<Op>::backward()).c_str(), "")
                         .template typed<typename Signatures<Op>::Backward>();
    if constexpr (!backward_has_is_result<Op>()) {
      return op.call(grad_output, saved, p...);
    } else if constexpr (Op::backward_layout == BackwardLayout::kSavedFirst) {
      return op.call(grad_output, saved, p..., is_result);
    } else {
      return op.call(grad_output, p..., is_result, saved);
    }
  }

  static at::Tensor& forward_out(at::Tensor& out, const at::Tensor& self, P... p) {
    static auto op = c10::Dispatcher::singleton()
                         .findSchemaOrThrow(Names<Op>::qualified(Op::name).c_str(), "out")
                         .template typed<void(const at::Tensor&, P..., at::Tensor&)>();
    op.call(self, p..., out);
    return out;
  }

  static at::Tensor& backward_out(at::Tensor& grad_input, const at::Tensor& grad_output, const at::Tensor& saved,
                                  bool is_result, P... p) {
    if constexpr (!backward_has_is_result<Op>()) {
      static auto op = c10::Dispatcher::singleton()
                           .findSchemaOrThrow(Names<Op>::qualified(Names<Op>::backward()).c_str(), "grad_input")
                           .template typed<void(const at::Tensor&, const at::Tensor&, P..., at::Tensor&)>();
      op.call(grad_output, saved, p..., grad_input);
    } else if constexpr (Op::backward_layout == BackwardLayout::kSavedFirst) {
      static auto op = c10::Dispatcher::singleton()
                           .findSchemaOrThrow(Names<Op>::qualified(Names<Op>::backward()).c_str(), "grad_input")
                           .template typed<void(const at::Tensor&, const at::Tensor&, P..., bool, at::Tensor&)>();
      op.call(grad_output, saved, p..., is_result, grad_input);
    } else {
      static auto op = c10::Dispatcher::singleton()
                           .findSchemaOrThrow(Names<Op>::qualified(Names<Op>::backward()).c_str(), "grad_input")
                           .template typed<void(const at::Tensor&, P..., bool, const at::Tensor&, at::Tensor&)>();
      op.call(grad_output, p..., is_result, saved, grad_input);
    }
    return grad_input;
  }
};

}  // namespace torch_ext::ops::elementwise
