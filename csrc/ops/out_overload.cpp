// The generic kernels of every out= overload (see out_overload.h).

#include "out_overload.h"

#include <ATen/MemoryOverlap.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/core/grad_mode.h>
#include <ATen/native/Resize.h>
#include <torch/csrc/autograd/VariableTypeUtils.h>

#include <string>
#include <vector>

#include "autograd/record.h"
#include "common/checks.h"

namespace torch_ext::ops {
namespace {

// The out arguments are the schema's trailing mutable (a!) tensors.
size_t count_outs(const c10::FunctionSchema& schema) {
  size_t n = 0;
  for (const auto& arg : schema.arguments()) {
    n += arg.is_out() ? 1 : 0;
  }
  return n;
}

std::string op_name(const c10::FunctionSchema& schema) {
  return schema.name().substr(schema.name().find("::") + 2) + "." + schema.overload_name();
}

// The tensors among the inputs (optional tensors that are None are skipped).
std::vector<at::Tensor> input_tensors(const c10::ArrayRef<c10::IValue>& inputs) {
  std::vector<at::Tensor> tensors;
  for (const auto& v : inputs) {
    if (v.isTensor() && v.toTensor().defined()) {
      tensors.push_back(v.toTensor());
    }
  }
  return tensors;
}

// Overlap needs concrete sizes and memory: a tensor with symbolic sizes (torch.compile's fake tensors) has
// neither, and its check runs when the compiled code runs on real tensors.
bool has_symbolic_sizes(const at::Tensor& t) { return t.unsafeGetTensorImpl()->has_symbolic_sizes_strides(); }

void check_out(const std::string& op, const std::string& arg, const at::Tensor& out, const at::Tensor& result,
               const std::vector<at::Tensor>& inputs) {
  TORCH_CHECK(out.defined(), op, ": expected ", arg, " to be a tensor, got an undefined tensor");
  check_same_device(op.c_str(), arg.c_str(), out, "the result", result);
  check_same_dtype(op.c_str(), arg.c_str(), out, "the result", result);
  if (has_symbolic_sizes(out)) {
    return;
  }
  check_no_internal_overlap(op.c_str(), arg.c_str(), out);
  for (const auto& input : inputs) {
    if (has_symbolic_sizes(input)) {
      continue;
    }
    TORCH_CHECK(at::get_overlap_status(out, input) != at::MemOverlapStatus::Partial, op, ": ", arg,
                " partly overlaps an input (some of their elements share memory); pass a separate tensor, or the "
                "input itself");
  }
}

// CompositeExplicitAutograd: runs the functional op (through the dispatcher: its device or Meta kernel), then
// writes its results.
void out_overload_kernel(const c10::OperatorHandle& op, torch::jit::Stack* stack) {
  const auto& schema = op.schema();
  const size_t n_args = schema.arguments().size();
  const size_t n_outs = count_outs(schema);
  const std::string name = op_name(schema);
  const size_t first_arg = stack->size() - n_args;
  std::vector<at::Tensor> outs;
  for (size_t i = n_args - n_outs; i < n_args; ++i) {
    outs.push_back((*stack)[first_arg + i].toTensor());
  }
  stack->resize(stack->size() - n_outs);
  const std::vector<at::Tensor> inputs =
      input_tensors(c10::ArrayRef<c10::IValue>(*stack).slice(first_arg, n_args - n_outs));

  const auto functional = c10::Dispatcher::singleton().findSchemaOrThrow(schema.name().c_str(), "");
  functional.callBoxed(stack);
  TORCH_INTERNAL_ASSERT(stack->size() == first_arg + n_outs, name, ": the functional op returned ",
                        stack->size() - first_arg, " values for ", n_outs, " out arguments");
  std::vector<at::Tensor> results;
  for (size_t i = 0; i < n_outs; ++i) {
    results.push_back((*stack)[first_arg + i].toTensor());
  }
  stack->resize(first_arg);

  // Every check before the first write: a refused call leaves every out as it was.
  for (size_t i = 0; i < n_outs; ++i) {
    const auto& arg = schema.arguments()[n_args - n_outs + i].name();
    check_out(name, arg, outs[i], results[i], inputs);
    for (size_t j = 0; j < i && !has_symbolic_sizes(outs[i]) && !has_symbolic_sizes(outs[j]); ++j) {
      TORCH_CHECK(at::get_overlap_status(outs[i], outs[j]) == at::MemOverlapStatus::No, name, ": ", arg,
                  " overlaps ", schema.arguments()[n_args - n_outs + j].name(),
                  " (they share memory); pass separate tensors");
    }
  }
  for (size_t i = 0; i < n_outs; ++i) {
    at::Tensor& out = outs[i];
    const at::Tensor& result = results[i];
    if (at::native::resize_output_symint(out, result.sym_sizes()) && result.is_non_overlapping_and_dense()) {
      // As ATen's structured kernels: a resized out takes the layout the op gives its own result.
      out.as_strided__symint(result.sym_sizes(), result.sym_strides());
    }
    out.copy_(result);
  }
}

void out_overload_autograd(const c10::OperatorHandle& op, c10::DispatchKeySet keys, torch::jit::Stack* stack) {
  const auto& schema = op.schema();
  const size_t n_args = schema.arguments().size();
  const std::string name = op_name(schema);
  const c10::ArrayRef<c10::IValue> args = c10::ArrayRef<c10::IValue>(*stack).slice(stack->size() - n_args);
  std::vector<at::Tensor> outs;
  for (size_t i = 0; i < n_args; ++i) {
    if (!args[i].isTensor() || !args[i].toTensor().defined()) {
      continue;
    }
    const at::Tensor& t = args[i].toTensor();
    const auto& arg = schema.arguments()[i].name();
    TORCH_CHECK(!records_grad(t), name, ": functions with out=... arguments don't support automatic "
                "differentiation, but ", arg, " requires grad. Call the functional op, or run under torch.no_grad()");
    TORCH_CHECK(!has_tangent(t), name, ": functions with out=... arguments don't support forward-mode AD, but ", arg,
                " carries a tangent (torch.func.jvp/jacfwd or torch.autograd.forward_ad). Call the functional op");
    if (schema.arguments()[i].is_out()) {
      outs.push_back(t);
    }
  }
  {
    at::AutoDispatchBelowADInplaceOrView guard;
    op.redispatchBoxed(keys & c10::after_ADInplaceOrView_keyset, stack);
  }
  for (const auto& out : outs) {
    torch::autograd::impl::bump_version(out);
  }
}

}  // namespace

void define_out_overload(torch::Library& m, const char* schema, const std::vector<at::Tag>& tags) {
  const auto parsed = torch::schema(schema);
  m.def(schema, tags);
  const std::string name = parsed.name() + (parsed.overload_name().empty() ? "" : "." + parsed.overload_name());
  m.impl(name.c_str(), torch::dispatch(c10::DispatchKey::CompositeExplicitAutograd,
                                       torch::CppFunction::makeFromBoxedFunction<&out_overload_kernel>()));
  m.impl(name.c_str(), torch::dispatch(c10::DispatchKey::Autograd,
                                       torch::CppFunction::makeFromBoxedFunction<&out_overload_autograd>()));
}

}  // namespace torch_ext::ops
