#pragma once
// prelu's declarations shared by its kernels (CPU, CUDA, Meta); not part of the public API.

#include "ops/prelu.h"

namespace torch_ext::ops {

// Argument checks shared by prelu's CPU, CUDA and Meta kernels (ATen's rules): floating self,
// weight of self's dtype and device, weight.dim() <= 1, and 1 weight or one per channel
// (C = size(1) for rank >= 2; 0-d and 1-D inputs are one channel).
void check_prelu(const at::Tensor& self, const at::Tensor& weight);

// check_prelu, and grad_output of self's shape, dtype and device.
void check_prelu_backward(const at::Tensor& grad_output, const at::Tensor& self, const at::Tensor& weight);

// A dense tensor seen as [outer, channels, inner] in memory order: the element at storage
// offset p (from the data pointer) is in channel (p / inner) % channels. This holds for every
// non-overlapping and dense layout (contiguous: inner = prod(sizes[2:]); channels_last: inner = 1),
// so the kernels need the layout's dim-1 stride only. One weight: {1, 1, numel}.
struct PreluLayout {
  int64_t outer;
  int64_t channels;
  int64_t inner;
};

// dense: non-overlapping and dense, checked by check_prelu against a weight of weight_numel elements.
PreluLayout prelu_layout(const at::Tensor& dense, int64_t weight_numel);

// t itself when it has out's sizes and puts every index at out's storage offset (out is dense),
// else a copy of t in out's layout: the kernels' fallback for any other strides.
at::Tensor prelu_dense_like(const at::Tensor& t, const at::Tensor& out);

}  // namespace torch_ext::ops
