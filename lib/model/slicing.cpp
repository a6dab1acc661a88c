#include "model/slicing.h"

#include <torch/script.h>
#include <torch/torch.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <cctype>
#include <set>

#include <fmt/format.h>

#include "common/error.h"
#include "model/segments.h"
#include "model/torch_boundary.h"

namespace hare::model {
namespace {

// A TorchScript attribute name for a layer: its path with every other
// character as '_', made unique within the slice (`block.0` and a sibling
// `block_0` would both read l_block_0): a taken name gets '_' appended
// until it is free.
std::string identifier_for(const std::string& layer_name, std::set<std::string>& taken) {
  std::string out = "l_";
  for (char c : layer_name) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  while (!taken.insert(out).second) out += '_';
  return out;
}

}  // namespace

void write_slices(const std::string& model_path, bool expand, const std::vector<SliceSpec>& specs,
                  const std::vector<std::string>& paths) {
  torch::jit::Module model = load_module(model_path);
  const std::vector<Segment> layers = discover_segments(model, model_path, SegmentOptions{expand});
  for (size_t k = 0; k < specs.size(); ++k) {
    const SliceSpec& spec = specs[k];
    if (spec.first < 0 || spec.last >= static_cast<int>(layers.size()) || spec.first > spec.last) {
      throw input_error(Location{model_path}, "slice {}..{} is outside the model's {} segments (the profile is of "
                        "another model?)", spec.first + 1, spec.last + 1, layers.size());
    }
    auto cu = std::make_shared<torch::jit::CompilationUnit>();
    torch::jit::Module slice(c10::QualifiedName(fmt::format("__torch__.hare.Stage{}", k + 1)), cu, true);
    slice.register_attribute("training", c10::BoolType::get(), false);
    std::string source = "\ndef forward(self, x):\n";
    std::set<std::string> taken;
    for (int i = spec.first; i <= spec.last; ++i) {
      const Segment& layer = layers[static_cast<size_t>(i)];
      const std::string name = identifier_for(layer.name, taken);
      slice.register_module(name, layer.module);
      source += fmt::format("    x = self.{}.forward(x)\n", name);
    }
    source += "    return x\n";
    try {
      slice.define(source);
      slice.eval();
      save_module(slice, paths[k]);
    } catch (const c10::Error& error) {
      throw failure("{}: cannot build slice {} ({})", model_path, k + 1, short_torch_message(error));
    }
  }
}

namespace {
// What the receiving node decodes: the tensor through the codec and back.
at::Tensor through(const at::Tensor& y, Codec codec) {
  if (codec == Codec::float32) return y;
  const at::Tensor in = y.contiguous();
  const auto values = static_cast<uint64_t>(in.numel());
  std::vector<uint8_t> wire(wire_bytes(codec, values));
  encode_values(codec, in.data_ptr<float>(), values, wire.data());
  at::Tensor out = torch::empty_like(in);
  decode_values(codec, wire.data(), values, out.data_ptr<float>());
  return out;
}
}  // namespace

double required_agreement(const std::vector<Codec>& codecs) {
  double required = 1.0;
  for (Codec c : codecs) {
    if (c == Codec::float16) required = std::min(required, 0.99);
    if (c == Codec::int8) required = std::min(required, 0.97);
  }
  return required;
}

EquivalenceReport check_equivalence(const std::string& model_path, const std::vector<std::string>& slice_paths,
                                    const std::vector<float>& windows, const std::vector<int64_t>& window_shape,
                                    int random, double tolerance, const std::vector<Codec>& codecs) {
  at::set_num_threads(1);
  c10::InferenceMode inference;
  torch::jit::Module whole = load_module(model_path);
  std::vector<torch::jit::Module> slices;
  for (const auto& path : slice_paths) slices.push_back(load_module(path));

  EquivalenceReport report;
  std::vector<at::Tensor> batches;
  if (!windows.empty()) {
    std::vector<int64_t> shape = window_shape;
    const int64_t per_window = shape[1] * shape[2];
    shape[0] = static_cast<int64_t>(windows.size()) / per_window;
    report.real_windows = static_cast<int>(shape[0]);
    batches.push_back(torch::from_blob(const_cast<float*>(windows.data()), shape, torch::kFloat32).clone());
  }
  if (random > 0) {
    torch::manual_seed(1234);
    std::vector<int64_t> shape = window_shape;
    shape[0] = random;
    report.random_windows = random;
    batches.push_back(torch::randn(shape));
  }
  {
    std::vector<int64_t> shape = window_shape;
    shape[0] = 1;
    at::Tensor y = torch::zeros(shape);
    for (auto& slice : slices) {
      report.slice_input_shapes.push_back(y.sizes().vec());
      y = slice.forward({y}).toTensor();
    }
  }
  report.lossy = std::any_of(codecs.begin(), codecs.end(), [](Codec c) { return c != Codec::float32; });
  report.lossy_required = required_agreement(codecs);
  if (report.lossy && codecs.size() != slices.size() + 1) {
    throw failure("internal: {} codecs for {} slices", codecs.size(), slices.size());
  }
  int lossy_agree = 0;
  for (size_t b = 0; b < batches.size(); ++b) {
    const at::Tensor& batch = batches[b];
    const bool real = b == 0 && !windows.empty();
    // Window by window, as the runtime feeds them (batch 1).
    for (int64_t i = 0; i < batch.size(0); ++i) {
      const at::Tensor x = batch.slice(0, i, i + 1);
      const at::Tensor expected = whole.forward({x}).toTensor();
      if (report.lossy) {
        at::Tensor z = x;
        for (size_t k = 0; k < slices.size(); ++k) z = slices[k].forward({through(z, codecs[k])}).toTensor();
        z = through(z, codecs.back());
        report.lossy_max_abs_diff = std::max(report.lossy_max_abs_diff, (z - expected).abs().max().item<double>());
        if (real && z.argmax(1).item<int64_t>() == expected.argmax(1).item<int64_t>()) ++lossy_agree;
      }
      at::Tensor y = x;
      for (auto& slice : slices) y = slice.forward({y}).toTensor();
      if (y.sizes() != expected.sizes()) {
        throw failure("the chained slices output shape {} but the model outputs {}", fmt::format("{}", fmt::join(y.sizes(), "x")),
                      fmt::format("{}", fmt::join(expected.sizes(), "x")));
      }
      report.max_abs_diff = std::max(report.max_abs_diff, (y - expected).abs().max().item<double>());
      if (y.argmax(1).item<int64_t>() != expected.argmax(1).item<int64_t>()) ++report.argmax_disagreements;
    }
  }
  report.passed = report.max_abs_diff <= tolerance && report.argmax_disagreements == 0;
  if (report.lossy) {
    report.lossy_agreement = report.real_windows > 0 ? static_cast<double>(lossy_agree) / report.real_windows : 0.0;
    report.passed = report.passed && report.lossy_agreement >= report.lossy_required;
  }
  return report;
}

}  // namespace hare::model
