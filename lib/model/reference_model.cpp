#include "model/reference_model.h"

#include <cmath>
#include <memory>

#include <fmt/format.h>

#include "common/strings.h"

namespace hare::model {
namespace {

using torch::jit::Module;

// PyTorch's default init for conv/linear: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
// for weights (kaiming_uniform with a = sqrt(5)) and biases alike.
at::Tensor uniform_init(at::IntArrayRef shape, int64_t fan_in) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(fan_in));
  return torch::empty(shape).uniform_(-bound, bound);
}

Module new_module(const std::shared_ptr<torch::jit::CompilationUnit>& cu, const std::string& type) {
  // Every child gets its own (mangled) class so that blocks with different
  // forwards can share a type name and still serialize.
  Module module(c10::QualifiedName("__torch__.hare." + type), cu, /*shouldMangle=*/true);
  module.register_attribute("training", c10::BoolType::get(), true);
  return module;
}

void add_param(Module& module, const std::string& name, at::Tensor value) {
  module.register_parameter(name, value.set_requires_grad(true), /*is_buffer=*/false);
}

Module conv_block(const std::shared_ptr<torch::jit::CompilationUnit>& cu, int in, const ConvSpec& spec) {
  Module block = new_module(cu, "ConvBlock");
  const int64_t fan_in = static_cast<int64_t>(in) * spec.kernel;
  // No conv bias: the batch norm's shift makes it redundant.
  add_param(block, "weight", uniform_init({spec.channels, in, spec.kernel}, fan_in));
  add_param(block, "bn_weight", torch::ones({spec.channels}));
  add_param(block, "bn_bias", torch::zeros({spec.channels}));
  block.register_buffer("running_mean", torch::zeros({spec.channels}));
  block.register_buffer("running_var", torch::ones({spec.channels}));
  const int padding = spec.kernel / 2;  // "same" length for odd kernels
  std::string source = fmt::format(R"(
def forward(self, x):
    y = torch.conv1d(x, self.weight, None, [1], [{}])
    y = torch.batch_norm(y, self.bn_weight, self.bn_bias, self.running_mean, self.running_var,
                         self.training, 0.1, 1e-5, False)
    y = torch.relu(y)
)",
                                   padding);
  source += spec.pool ? "    return torch.max_pool1d(y, [2], [2])\n" : "    return y\n";
  block.define(source);
  return block;
}

Module encoder(const std::shared_ptr<torch::jit::CompilationUnit>& cu, int in, int channels, int stride) {
  Module block = new_module(cu, "Encoder");
  add_param(block, "weight", uniform_init({channels, in, stride}, static_cast<int64_t>(in) * stride));
  add_param(block, "bn_weight", torch::ones({channels}));
  add_param(block, "bn_bias", torch::zeros({channels}));
  block.register_buffer("running_mean", torch::zeros({channels}));
  block.register_buffer("running_var", torch::ones({channels}));
  // Non-overlapping patches; no activation, so that the code keeps its sign.
  block.define(fmt::format(R"(
def forward(self, x):
    y = torch.conv1d(x, self.weight, None, [{}], [0])
    return torch.batch_norm(y, self.bn_weight, self.bn_bias, self.running_mean, self.running_var,
                            self.training, 0.1, 1e-5, False)
)",
                           stride));
  return block;
}

Module global_pool(const std::shared_ptr<torch::jit::CompilationUnit>& cu) {
  Module pool = new_module(cu, "GlobalPool");
  pool.define(R"(
def forward(self, x):
    return torch.cat([torch.mean(x, [2]), torch.amax(x, [2])], 1)
)");
  return pool;
}

Module dense(const std::shared_ptr<torch::jit::CompilationUnit>& cu, int in, int out, double dropout) {
  Module layer = new_module(cu, "Dense");
  add_param(layer, "weight", uniform_init({out, in}, in));
  add_param(layer, "bias", uniform_init({out}, in));
  layer.define(fmt::format(R"(
def forward(self, x):
    y = torch.dropout(x, {}, self.training)
    return torch.relu(torch.linear(y, self.weight, self.bias))
)",
                           dropout));
  return layer;
}

Module linear(const std::shared_ptr<torch::jit::CompilationUnit>& cu, int in, int out) {
  Module layer = new_module(cu, "Linear");
  add_param(layer, "weight", uniform_init({out, in}, in));
  add_param(layer, "bias", uniform_init({out}, in));
  layer.define(R"(
def forward(self, x):
    return torch.linear(x, self.weight, self.bias)
)");
  return layer;
}

Module conv(const std::shared_ptr<torch::jit::CompilationUnit>& cu, int in, int filters, int kernel) {
  Module layer = new_module(cu, "Conv");
  const int64_t fan_in = static_cast<int64_t>(in) * kernel;
  add_param(layer, "weight", uniform_init({filters, in, kernel}, fan_in));
  add_param(layer, "bias", uniform_init({filters}, fan_in));
  layer.define(R"(
def forward(self, x):
    return torch.conv1d(x, self.weight, self.bias, [1], [0])
)");
  return layer;
}

// A stacked LSTM on [N, T, features] returning every step's output [N, T, units],
// with nn.LSTM's parameter names and init so that its weights map one to one.
Module lstm(const std::shared_ptr<torch::jit::CompilationUnit>& cu, int in, int units, int layers, double dropout) {
  Module block = new_module(cu, "Lstm");
  std::vector<std::string> params;
  for (int k = 0; k < layers; ++k) {
    const int layer_in = k == 0 ? in : units;
    const std::vector<std::pair<std::string, std::vector<int64_t>>> shapes = {
        {fmt::format("weight_ih_l{}", k), {4 * units, layer_in}},
        {fmt::format("weight_hh_l{}", k), {4 * units, units}},
        {fmt::format("bias_ih_l{}", k), {4 * units}},
        {fmt::format("bias_hh_l{}", k), {4 * units}}};
    for (const auto& [name, shape] : shapes) {
      at::Tensor value = uniform_init(shape, units);
      // Forget-gate bias 1 (gates i, f, g, o in torch's order): cells keep
      // their state from the start, so the last step still sees the first
      // ones (Jozefowicz et al. 2015).
      if (name == fmt::format("bias_ih_l{}", k)) value.slice(0, units, 2 * units).fill_(1.0);
      if (name == fmt::format("bias_hh_l{}", k)) value.slice(0, units, 2 * units).zero_();
      add_param(block, name, value);
      params.push_back("self." + name);
    }
  }
  // Zero initial state; `dropout` falls on the inputs of layers 2..n only,
  // as in nn.LSTM.
  block.define(fmt::format(R"(
def forward(self, x):
    state = torch.zeros([{layers}, x.size(0), {units}], dtype=x.dtype, device=x.device)
    out, h, c = torch.lstm(x, [state, state], [{params}], True, {layers}, {dropout:.4f}, self.training, False, True)
    return out
)",
                           fmt::arg("layers", layers), fmt::arg("units", units), fmt::arg("params", join(params, ", ")),
                           fmt::arg("dropout", dropout)));
  return block;
}

}  // namespace

torch::jit::Module build_reference_model(const ReferenceConfig& config) {
  torch::NoGradGuard no_grad;
  auto cu = std::make_shared<torch::jit::CompilationUnit>();
  Module root = new_module(cu, "HarCnn");
  std::vector<std::string> names;
  int channels = config.in_channels;
  if (config.bottleneck_channels > 0) {
    root.register_module("encoder", encoder(cu, channels, config.bottleneck_channels, config.bottleneck_stride));
    channels = config.bottleneck_channels;
    names.push_back("encoder");
  }
  for (size_t i = 0; i < config.convs.size(); ++i) {
    const std::string name = fmt::format("conv{}", i + 1);
    root.register_module(name, conv_block(cu, channels, config.convs[i]));
    channels = config.convs[i].channels;
    names.push_back(name);
  }
  root.register_module("pool", global_pool(cu));
  root.register_module("fc1", dense(cu, 2 * channels, config.hidden, config.dropout));
  root.register_module("out", linear(cu, config.hidden, config.num_classes));
  names.insert(names.end(), {"pool", "fc1", "out"});

  std::string source = "\ndef forward(self, x):\n";
  for (const auto& name : names) source += fmt::format("    x = self.{}.forward(x)\n", name);
  source += "    return x\n";
  root.define(source);
  return root;
}

torch::jit::Module build_deepconvlstm(const DeepConvLstmConfig& config) {
  torch::NoGradGuard no_grad;
  auto cu = std::make_shared<torch::jit::CompilationUnit>();
  Module root = new_module(cu, "DeepConvLstm");
  std::string source = "\ndef forward(self, x):\n";
  int channels = config.in_channels;
  for (int i = 1; i <= config.conv_layers; ++i) {
    root.register_module(fmt::format("conv{}", i), conv(cu, channels, config.filters, config.kernel));
    channels = config.filters;
    source += fmt::format("    x = torch.relu(self.conv{}.forward(x))\n", i);
  }
  root.register_module("lstm", lstm(cu, channels, config.lstm_units, config.lstm_layers, config.dropout));
  root.register_module("out", linear(cu, config.lstm_units, config.num_classes));
  source += fmt::format(R"(    x = x.permute(0, 2, 1)  # [N, T, C]: one LSTM step per remaining sample
    x = self.lstm.forward(torch.dropout(x, {0:.4f}, self.training))
    x = torch.dropout(x[:, -1], {0:.4f}, self.training)
    return self.out.forward(x)
)",
                        config.dropout);
  root.define(source);
  return root;
}

std::string describe(const DeepConvLstmConfig& config) {
  return fmt::format("deepconvlstm: {}x conv{}k{} (no padding, ReLU), {}x lstm{} over {} steps, last step, out{} "
                     "(dropout {} into each LSTM layer and out)",
                     config.conv_layers, config.filters, config.kernel, config.lstm_layers, config.lstm_units,
                     config.window - config.conv_layers * (config.kernel - 1), config.num_classes, config.dropout);
}

std::string describe(const ReferenceConfig& config) {
  std::string text = "hare-cnn:";
  if (config.bottleneck_channels > 0) {
    text += fmt::format(" encoder{}s{} (bottleneck, {}x fewer values),", config.bottleneck_channels, config.bottleneck_stride,
                        static_cast<double>(config.in_channels * config.bottleneck_stride) / config.bottleneck_channels);
  }
  for (const auto& conv : config.convs) {
    text += fmt::format(" conv{}k{}{}", conv.channels, conv.kernel, conv.pool ? "/pool2" : "");
  }
  text += fmt::format(", global mean+max pool, fc{} (dropout {}), out{}", config.hidden, config.dropout,
                      config.num_classes);
  return text;
}

int64_t count_parameters(const torch::jit::Module& module) {
  int64_t total = 0;
  for (const auto& parameter : module.parameters()) total += parameter.numel();
  return total;
}

std::vector<std::string> child_names(const torch::jit::Module& module) {
  std::vector<std::string> names;
  for (const auto& child : module.named_children()) names.push_back(child.name);
  return names;
}

}  // namespace hare::model
