// A program outside torch_ext: ELU forward and backward through the installed C++ API, checked
// against ATen's at::elu, and the op looked up in the dispatcher. Exits non-zero on any mismatch.

#include <torch/torch.h>
#include <torch_ext/torch_ext.h>

#include <ATen/core/dispatch/Dispatcher.h>

#include <iostream>

int main() {
  int failures = 0;
  auto check = [&failures](bool ok, const char* what) {
    std::cout << (ok ? "ok   " : "FAIL ") << what << "\n";
    if (!ok) ++failures;
  };

  try {
    // The static initializers of libtorch_ext_ops registered the ops.
    for (const char* name : {"torch_ext::elu", "torch_ext::elu_backward"}) {
      check(c10::Dispatcher::singleton().findSchema({name, ""}).has_value(), name);
    }

    const double alpha = 0.5, scale = 1.5, input_scale = 0.7;
    const at::Tensor data = torch::linspace(-3.0, 3.0, 13, torch::kDouble);
    const at::Tensor g = torch::linspace(0.5, 2.0, 13, torch::kDouble);

    const at::Tensor x = data.clone().requires_grad_();
    const at::Tensor y = torch_ext::elu(x, alpha, scale, input_scale);
    y.backward(g);

    const at::Tensor x_ref = data.clone().requires_grad_();
    const at::Tensor y_ref = at::elu(x_ref, alpha, scale, input_scale);
    y_ref.backward(g);

    std::cout << "x      = " << data << "\n"
              << "elu(x) = " << y.detach() << "\n"
              << "grad   = " << x.grad() << "\n";
    check(torch::allclose(y.detach(), y_ref.detach(), 1e-12, 0.0), "forward matches at::elu");
    check(x.grad().defined() && torch::allclose(x.grad(), x_ref.grad(), 1e-12, 0.0),
          "backward matches at::elu's gradient");

    const auto info = torch_ext::build_info();
    std::cout << "torch_ext " << info.at("version") << " (torch " << info.at("torch_version")
              << ", cuda " << info.at("cuda") << ", cpu " << info.at("cpu_capability") << ")\n";
  } catch (const std::exception& e) {
    std::cerr << "FAIL exception: " << e.what() << "\n";
    return 2;
  }

  std::cout << (failures ? "consumer: FAILED" : "consumer: all checks passed") << "\n";
  return failures ? 1 : 0;
}
