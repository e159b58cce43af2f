// Autograd for the generic elementwise activations (common/elementwise_op.h), for every row of ElementwiseOps:
//   ForwardFunction   saves the input, or the result where the row's backward reads the result (as ATen's
//                     sigmoid);
//   InplaceFunction   saves the result (as ATen's elu_), so its backward reads the result;
//   BackwardFunction  makes the backward op differentiable again (double backward): it is linear in grad_output,
//                     and the row's backward_d_saved gives its gradient with respect to the saved tensor.
// Forward-mode AD: each kernel runs on its inputs' primals and sets the output's tangent from the row's formulas
// (see autograd/record.h).

#include <ATen/TensorOperators.h>
#include <torch/autograd.h>
#include <torch/library.h>

#include <iterator>
#include <string>
#include <type_traits>
#include <tuple>
#include <utility>

#include "ops/autograd/record.h"
#include "ops/common/checks.h"
#include "ops/common/elementwise_op.h"
#include "ops/elementwise/all.h"

namespace torch_ext::ops {
namespace {

using elementwise::BackwardFrom;
using elementwise::ElementwiseApi;
using elementwise::Names;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

template <typename Op, typename Params = typename Op::Params>
struct AutogradKernels;

template <typename Op, typename... P>
struct AutogradKernels<Op, std::tuple<P...>> {
  using Api = ElementwiseApi<Op>;
  static constexpr bool kSavesResult = Op::backward_from == BackwardFrom::kResult;

  // The saved_data keys of the parameters, by position.
  static constexpr const char* kParamKeys[] = {"p0", "p1", "p2", "p3"};
  static_assert(sizeof...(P) <= std::size(kParamKeys), "more parameters than kParamKeys names");

  // A string parameter (a view of the caller's string) is saved as a copy; the view loaded back points into it.
  template <typename T>
  static c10::IValue to_saved(T p) {
    if constexpr (std::is_same_v<T, c10::string_view>) {
      return c10::IValue(std::string(p));
    } else {
      return c10::IValue(p);
    }
  }
  template <typename T>
  static T from_saved(const c10::IValue& v) {
    if constexpr (std::is_same_v<T, c10::string_view>) {
      return v.toStringView();
    } else {
      return v.to<T>();
    }
  }

  template <size_t... I>
  static void save_params(AutogradContext* ctx, std::index_sequence<I...>, P... p) {
    ((ctx->saved_data[kParamKeys[I]] = to_saved(p)), ...);
  }

  static void save_params(AutogradContext* ctx, P... p) { save_params(ctx, std::index_sequence_for<P...>{}, p...); }

  template <size_t... I>
  static typename Op::Params load_params(AutogradContext* ctx, std::index_sequence<I...>) {
    return {from_saved<P>(ctx->saved_data[kParamKeys[I]])...};
  }

  static typename Op::Params load_params(AutogradContext* ctx) {
    return load_params(ctx, std::index_sequence_for<P...>{});
  }

  class BackwardFunction : public torch::autograd::Function<BackwardFunction> {
   public:
    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& grad_output, const at::Tensor& saved,
                              bool is_result, P... p) {
      at::AutoDispatchBelowADInplaceOrView guard;
      save_params(ctx, p...);
      ctx->saved_data["is_result"] = is_result;
      ctx->save_for_backward({grad_output, saved});
      return Api::backward(grad_output, saved, is_result, p...);
    }

    static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
      const bool is_result = ctx->saved_data["is_result"].toBool();
      const auto saved_variables = ctx->get_saved_variables();
      const at::Tensor& grad_output = saved_variables[0];
      const at::Tensor& b = saved_variables[1];
      const at::Tensor& gg = grad_outputs[0];

      variable_list out(3 + sizeof...(P));
      if (gg.defined()) {
        std::apply(
            [&](auto... p) {
              out[0] = Api::backward(gg, b, is_result, p...);  // linear in grad_output
              out[1] = Op::backward_d_saved(gg, grad_output, b, is_result, p...);
            },
            load_params(ctx));
      }
      return out;
    }
  };

  class ForwardFunction : public torch::autograd::Function<ForwardFunction> {
   public:
    static at::Tensor forward(AutogradContext* ctx, const at::Tensor& self, P... p) {
      at::AutoDispatchBelowADInplaceOrView guard;
      save_params(ctx, p...);
      at::Tensor out = Api::forward(self, p...);
      ctx->save_for_backward({kSavesResult ? out : self});
      return out;
    }

    static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
      const at::Tensor saved = ctx->get_saved_variables()[0];
      variable_list out(1 + sizeof...(P));
      out[0] = std::apply([&](auto... p) { return Api::backward(grad_outputs[0], saved, kSavesResult, p...); },
                          load_params(ctx));
      return out;
    }
  };

  class InplaceFunction : public torch::autograd::Function<InplaceFunction> {
   public:
    static at::Tensor forward(AutogradContext* ctx, at::Tensor self, P... p) {
      {
        at::AutoDispatchBelowADInplaceOrView guard;
        Api::inplace(self, p...);
      }
      ctx->mark_dirty({self});
      save_params(ctx, p...);
      ctx->save_for_backward({self});  // the result: x is gone
      return self;
    }

    static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
      const at::Tensor result = ctx->get_saved_variables()[0];
      variable_list out(1 + sizeof...(P));
      out[0] = std::apply([&](auto... p) { return Api::backward(grad_outputs[0], result, /*is_result=*/true, p...); },
                          load_params(ctx));
      return out;
    }
  };

  static at::Tensor forward(const at::Tensor& self, P... p) {
    if (has_tangent(self)) {
      const at::Tensor x = primal(self);
      at::Tensor out = forward(guarded_primal(Op::name, self), p...);
      return with_tangent(out, Api::backward(tangent(self), kSavesResult ? out : x, kSavesResult, p...));
    }
    if (!records_grad(self)) {
      at::AutoDispatchBelowADInplaceOrView guard;
      return Api::forward(self, p...);
    }
    return ForwardFunction::apply(self, p...);
  }

  static void inplace(at::Tensor& self, P... p) {
    static_assert(Op::backward_from != BackwardFrom::kInput, "an in-place op's backward must read the result");
    check_inplace_not_leaf(Names<Op>::inplace(), self);
    if (has_tangent(self)) {
      check_tangent_without_graph(Names<Op>::inplace(), self);
      // As ATen's in-place ops: the tangent from the result, after the primal is modified.
      at::Tensor x = primal(self);
      inplace(x, p...);
      set_inplace_tangent(self, Api::backward(tangent(self), x, /*is_result=*/true, p...));
      return;
    }
    if (!records_grad(self)) {
      {
        at::AutoDispatchBelowADInplaceOrView guard;
        Api::inplace(self, p...);
      }
      // NB: the Function's mark_dirty bumps the version counter; below autograd nothing does.
      torch::autograd::impl::bump_version(self);
      return;
    }
    InplaceFunction::apply(self, p...);
  }

  static at::Tensor backward(const at::Tensor& grad_output, const at::Tensor& saved, bool is_result, P... p) {
    if (has_tangent(grad_output, saved)) {
      const at::Tensor g = primal(grad_output), b = primal(saved);
      const at::Tensor t_g = tangent(grad_output), t_b = tangent(saved);
      const char* op = Names<Op>::backward();
      return with_tangent(
          backward(guarded_primal(op, grad_output), guarded_primal(op, saved), is_result, p...),
          add_terms(t_g.defined() ? Api::backward(t_g, b, is_result, p...) : at::Tensor(),
                    t_b.defined() ? Op::backward_d_saved(t_b, g, b, is_result, p...) : at::Tensor()));
    }
    if (!records_grad(grad_output, saved)) {
      at::AutoDispatchBelowADInplaceOrView guard;
      return Api::backward(grad_output, saved, is_result, p...);
    }
    return BackwardFunction::apply(grad_output, saved, is_result, p...);
  }
};

}  // namespace
}  // namespace torch_ext::ops

TORCH_LIBRARY_IMPL(torch_ext, Autograd, m) {
  torch_ext::ops::elementwise::impl_kernels<torch_ext::ops::AutogradKernels>(m);
}
