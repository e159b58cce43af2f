#pragma once
// out= overloads (elu.out, softmax_backward.grad_input, ...), as ATen has them for C++ users who keep their
// own output buffers.

#include <torch/library.h>

namespace torch_ext::ops {

// Defines the out= overload of a functional op of this library. The schema repeats the functional op's
// (overload "") arguments and adds one keyword-only mutable tensor per return, and returns nothing (as the
// in-place ops: torch.compile functionalizes a mutating custom op only when it returns no alias), e.g.
//   "elu.out(Tensor self, float alpha=1.0, float scale=1.0, float input_scale=1.0, *, Tensor(a!) out) -> ()".
// One generic kernel serves every device and Meta: it computes the functional op, then writes each result into
// its out argument with ATen's out= rules. Each out must have the result's dtype and device, must not have
// elements that share memory, and must not partly overlap an input or another out (a full overlap, out=self,
// is allowed). Out is resized to the result's shape as at::native::resize_output does (with its warning when
// a non-empty tensor of another shape is resized), taking the result's strides when it is resized. The
// Autograd kernel refuses, as ATen's out= functions do, inputs that require grad (in grad mode) and inputs
// that carry a forward-mode tangent.
void define_out_overload(torch::Library& m, const char* schema, const std::vector<at::Tag>& tags = {});

}  // namespace torch_ext::ops
