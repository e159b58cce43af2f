#pragma once
// Tensor? arguments between their two spellings: the schemas' std::optional<at::Tensor>, and the undefined tensor
// that C++ modules' buffers and autograd's saved data hold where none was given.

#include <ATen/core/Tensor.h>

#include <optional>

namespace torch_ext {

// nullopt for an undefined tensor.
inline std::optional<at::Tensor> optional_if_defined(const at::Tensor& t) {
  return t.defined() ? std::optional<at::Tensor>(t) : std::nullopt;
}

// An undefined tensor for nullopt (or an optional holding an undefined tensor).
inline at::Tensor value_or_undefined(const std::optional<at::Tensor>& t) {
  return t.has_value() ? *t : at::Tensor();
}

}  // namespace torch_ext
