#include "torch_test.h"

#include "common/error.h"
#include "model/chain.h"
#include "model/reference_model.h"
#include "model/torch_boundary.h"
#include "test_util.h"

using namespace hare;
using namespace hare::model;

namespace {

const std::string& fixtures() { return test::python_fixtures(); }

std::vector<std::string> names_of(const std::vector<ChainLayer>& layers) {
  std::vector<std::string> names;
  for (const auto& layer : layers) names.push_back(layer.name);
  return names;
}

std::vector<std::string> types_of(const std::vector<ChainLayer>& layers) {
  std::vector<std::string> types;
  for (const auto& layer : layers) types.push_back(layer.type);
  return types;
}

std::string chain_error(const std::string& fixture) {
  const std::string path = fixtures() + "/" + fixture + ".pt";
  try {
    discover_chain(load_module(path), path);
  } catch (const Error& error) {
    CHECK(error.exit_code() == ExitCode::usage);
    const std::string what = error.what();
    return what.substr(path.size() + 2);  // without "path: "
  }
  FAIL("no error for " + fixture);
  return {};
}

}  // namespace

TEST_CASE("chain discovery on hare's reference model", "[model]") {
  const torch::jit::Module module = build_reference_model(ReferenceConfig{});
  const auto layers = discover_chain(module, "ref");
  CHECK(names_of(layers) == std::vector<std::string>{"conv1", "conv2", "conv3", "conv4", "pool", "fc1", "out"});
  CHECK(types_of(layers).front() == "ConvBlock");
  CHECK(types_of(layers).back() == "Linear");
}

TEST_CASE("chain discovery on Python-exported models", "[model]") {
  const auto sequential = discover_chain(load_module(fixtures() + "/sequential.pt"), "sequential");
  CHECK(names_of(sequential) == std::vector<std::string>{"0", "1", "2", "3", "4", "5"});
  CHECK(types_of(sequential) ==
        std::vector<std::string>{"Conv1d", "ReLU", "MaxPool1d", "Flatten", "Linear", "Linear"});

  const auto custom = discover_chain(load_module(fixtures() + "/custom.pt"), "custom");
  CHECK(names_of(custom) == std::vector<std::string>{"features", "act", "pool", "flat", "head"});
}

TEST_CASE("a nested Sequential is one layer unless expanded", "[model]") {
  const torch::jit::Module nested = load_module(fixtures() + "/nested.pt");
  const auto flat = discover_chain(nested, "nested");
  CHECK(names_of(flat) == std::vector<std::string>{"0", "1", "2", "3", "4"});
  CHECK(flat[0].type == "Sequential");
  const auto expanded = discover_chain(nested, "nested", ChainOptions{true});
  CHECK(names_of(expanded) == std::vector<std::string>{"0.0", "0.1", "1.0", "1.1", "2", "3", "4"});
  CHECK(expanded[0].type == "Conv1d");

  // The expanded layers chained give the whole model's output.
  const at::Tensor x = torch::randn({2, 6, 128});
  at::Tensor y = x;
  for (const auto& layer : expanded) y = layer.module.get_method("forward")({y}).toTensor();
  CHECK(torch::allclose(y, const_cast<torch::jit::Module&>(nested).forward({x}).toTensor()));
}

TEST_CASE("models that are not chains are refused naming the first offending node", "[model]") {
  CHECK(chain_error("residual") ==
        "forward is not a layer chain: the first offending graph node is 'aten::add' "
        "(`return torch.add(x0, (b).forward(x0, ))`): a chain's forward may only call its children in order");
  CHECK(chain_error("branch") ==
        "forward is not a layer chain: the first offending graph node is 'prim::CallMethod' "
        "(`z = (b).forward(x, )`): it calls child 'b' on a value other than the previous child's output "
        "(a branch or skip connection)");
  CHECK(chain_error("two_inputs") ==
        "forward is not a layer chain: forward takes 2 inputs; a chain takes exactly one tensor");
}
