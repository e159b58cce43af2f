// run_model: inference of a model exported from Python that uses torch_ext layers, from C++ alone
// (no Python at run time).
//
//   run_model --torchscript model.pt --data data.pt [--output out.pt] [--rtol R] [--atol A] [--device cpu|cuda]
//   run_model --aoti model.pt2      --data data.pt [...]
//
// The model is a TorchScript file (torch.jit.script(...).save) or an AOTInductor package
// (torch._inductor.aoti_compile_and_package). data.pt is torch.save({"inputs": x, "expected": y,
// "labels": l}) from Python ("labels" optional): the program runs the model on x in one batch, then
// reports the largest difference from y, whether the predictions (argmax over dim 1) equal
// y's, and the accuracy against the labels when given. --output writes the outputs
// (torch.load-able).
//
// Exit status: 0 when the outputs are within tolerance of the expected ones and every prediction is
// equal; 1 when not; 2 on a usage error or an exception (e.g. a model that does not load).

#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/inductor/aoti_package/model_package_loader.h>
#include <torch/script.h>
#include <torch/serialize.h>

#include <cstdlib>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

struct Options {
  std::string format;  // "torchscript" or "aoti"
  std::string model;
  std::string data;
  std::string output;
  std::string device = "cpu";
  double rtol = 1e-4;
  double atol = 1e-5;
};

[[noreturn]] void usage(const std::string& error) {
  std::cerr << "run_model: " << error << "\n"
            << "usage: run_model (--torchscript MODEL.pt | --aoti MODEL.pt2) --data DATA.pt [--output OUT.pt]\n"
            << "                 [--rtol R] [--atol A] [--device cpu|cuda]\n";
  std::exit(2);
}

double parse_double(const std::string& flag, const std::string& text) {
  try {
    size_t used = 0;
    const double v = std::stod(text, &used);
    if (used == text.size() && v >= 0) return v;
  } catch (const std::exception&) {
  }
  usage(flag + " expects a non-negative number, got '" + text + "'");
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage(flag + " expects a value");
    const std::string value = argv[++i];
    if (flag == "--torchscript" || flag == "--aoti") {
      if (!o.format.empty()) usage("give one model, --torchscript or --aoti");
      o.format = flag.substr(2);
      o.model = value;
    } else if (flag == "--data") {
      o.data = value;
    } else if (flag == "--output") {
      o.output = value;
    } else if (flag == "--device") {
      if (value != "cpu" && value != "cuda") usage("--device expects cpu or cuda, got '" + value + "'");
      o.device = value;
    } else if (flag == "--rtol") {
      o.rtol = parse_double(flag, value);
    } else if (flag == "--atol") {
      o.atol = parse_double(flag, value);
    } else {
      usage("unknown argument '" + flag + "'");
    }
  }
  if (o.format.empty()) usage("missing --torchscript MODEL or --aoti MODEL");
  if (o.data.empty()) usage("missing --data DATA");
  return o;
}

std::vector<char> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  return std::vector<char>(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The tensors of the data file: a dict written by Python's torch.save.
struct Data {
  at::Tensor inputs, expected;
  std::optional<at::Tensor> labels;
};

Data load_data(const std::string& path) {
  const c10::IValue value = torch::pickle_load(read_file(path));
  TORCH_CHECK(value.isGenericDict(), "run_model: ", path, " must hold a dict of tensors (torch.save({...})), got ",
              value.tagKind());
  const auto dict = value.toGenericDict();
  auto get = [&](const char* key) -> std::optional<at::Tensor> {
    auto it = dict.find(key);
    if (it == dict.end()) return std::nullopt;
    TORCH_CHECK(it->value().isTensor(), "run_model: ", path, ": '", key, "' must be a tensor, got ",
                it->value().tagKind());
    return it->value().toTensor();
  };
  Data d;
  auto inputs = get("inputs");
  auto expected = get("expected");
  TORCH_CHECK(inputs && expected, "run_model: ", path, " must have the keys 'inputs' and 'expected'");
  d.inputs = *inputs;
  d.expected = *expected;
  d.labels = get("labels");
  return d;
}

// The ops come from libtorch_ext_ops' static initializers; without them a model fails to load with
// "Unknown builtin op" (TorchScript) or at its first call (AOTInductor). Say so up front.
void require_ops_registered() {
  for (const char* name : {"torch_ext::elu", "torch_ext::prelu", "torch_ext::softplus"}) {
    TORCH_CHECK(c10::Dispatcher::singleton().findSchema({name, ""}).has_value(), "run_model: ", name,
                " is not registered: libtorch_ext_ops is not loaded (link it with -Wl,--no-as-needed, as "
                "TorchExt::TorchExt does)");
  }
}

at::Tensor run_torchscript(const Options& o, const at::Tensor& inputs) {
  torch::jit::Module module = torch::jit::load(o.model, c10::Device(o.device));
  module.eval();  // inference: RReLU takes its fixed slope, whatever mode the file was saved in
  const c10::IValue out = module.forward({inputs});
  if (out.isTuple()) return out.toTupleRef().elements().at(0).toTensor();
  return out.toTensor();
}

at::Tensor run_aoti(const Options& o, const at::Tensor& inputs) {
  torch::inductor::AOTIModelPackageLoader loader(o.model);
  const std::vector<at::Tensor> outs = loader.run({inputs});
  TORCH_CHECK(!outs.empty(), "run_model: the AOTInductor package returned no output");
  return outs[0];
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    require_ops_registered();
    const Data data = load_data(o.data);
    const at::Tensor inputs = data.inputs.to(c10::Device(o.device));

    at::Tensor out;
    {
      c10::InferenceMode guard;
      out = o.format == "torchscript" ? run_torchscript(o, inputs) : run_aoti(o, inputs);
    }
    out = out.to(at::kCPU);
    if (!o.output.empty()) {
      const std::vector<char> bytes = torch::pickle_save(out);
      std::ofstream(o.output, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    }

    TORCH_CHECK(out.sizes() == data.expected.sizes(), "run_model: output shape ", out.sizes(),
                " differs from the expected ", data.expected.sizes());
    const at::Tensor expected = data.expected.to(out.dtype());
    const double max_diff = (out.to(at::kDouble) - expected.to(at::kDouble)).abs().max().item<double>();
    const bool close = at::allclose(out, expected, o.rtol, o.atol);
    const int64_t n = out.size(0);

    std::cout << std::setprecision(3) << o.format << ": " << o.model << "\n"
              << "  " << n << " samples, output " << out.sizes() << " " << out.scalar_type()
              << ", max |C++ - Python| = " << max_diff << (close ? " (within" : " (NOT within") << " rtol "
              << o.rtol << ", atol " << o.atol << ")\n";

    bool predictions_equal = true;
    if (out.dim() == 2) {
      const at::Tensor pred = out.argmax(1);
      const int64_t same = pred.eq(expected.argmax(1)).sum().item<int64_t>();
      predictions_equal = same == n;
      std::cout << "  predictions equal to Python's: " << same << "/" << n << (predictions_equal ? "" : "  MISMATCH")
                << "\n";
      if (data.labels) {
        const int64_t correct = pred.eq(*data.labels).sum().item<int64_t>();
        std::cout << std::fixed << std::setprecision(2) << "  accuracy: " << correct << "/" << n << " = "
                  << 100.0 * static_cast<double>(correct) / static_cast<double>(n) << " %\n";
      }
    }
    const bool ok = close && predictions_equal;
    std::cout << "run_model: " << (ok ? "OK" : "FAILED") << "\n";
    return ok ? 0 : 1;
  } catch (const c10::Error& e) {
    // The message without the C++ stack trace torch attaches: the reason is what a user needs.
    std::cerr << "run_model: error: " << e.what_without_backtrace() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "run_model: error: " << e.what() << "\n";
    return 2;
  }
}
