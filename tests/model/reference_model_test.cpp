#include "torch_test.h"

#include <cstdlib>

#include "common/error.h"
#include "model/chain.h"
#include "model/reference_model.h"
#include "model/torch_boundary.h"
#include "test_util.h"

using namespace hare;
using namespace hare::model;

TEST_CASE("the reference model is a chain of at least 6 sliceable children", "[model]") {
  torch::manual_seed(1);
  ReferenceConfig config;
  torch::jit::Module module = build_reference_model(config);
  const auto names = child_names(module);
  CHECK(names.size() >= 6);
  CHECK(names.back() == "out");
  module.eval();
  const at::Tensor x = torch::randn({3, config.in_channels, config.window});
  const at::Tensor whole = module.forward({x}).toTensor();
  CHECK(whole.sizes() == at::IntArrayRef({3, config.num_classes}));

  // Calling the children one after another is the whole model.
  at::Tensor chained = x;
  for (const auto& child : module.named_children()) {
    chained = child.value.get_method("forward")({chained}).toTensor();
  }
  CHECK(torch::equal(chained, whole));
  CHECK(count_parameters(module) < 500000);  // < 2 MB of float32
}

TEST_CASE("a saved model reloads with torch::jit::load and gives identical outputs", "[model]") {
  torch::manual_seed(2);
  torch::jit::Module module = GENERATE(as<torch::jit::Module>{}, build_reference_model(ReferenceConfig{}),
                                       build_deepconvlstm(DeepConvLstmConfig{}));
  INFO(type_name(module));
  module.eval();
  test::TempDir dir;
  save_module(module, dir.file("m.pt"));
  torch::jit::Module loaded = load_module(dir.file("m.pt"));
  const at::Tensor x = torch::randn({4, 6, 128});
  CHECK(torch::equal(module.forward({x}).toTensor(), loaded.forward({x}).toTensor()));

  // Python's torch.jit.load reads it too (python3-torch is installed by setup).
  const std::string script = "import torch; m = torch.jit.load('" + dir.file("m.pt") +
                             "'); print(tuple(m(torch.zeros(2, 6, 128)).shape))";
  const auto result = test::run("/usr/bin/python3 -c \"" + script + "\"");
  INFO(result.err);
  CHECK(result.exit_code == 0);
  CHECK(result.out == "(2, 12)\n");
}

TEST_CASE("loading a file that is not TorchScript is an input error that says what to do", "[model]") {
  test::TempDir dir;
  test::write_text(dir.file("bad.pt"), "definitely not a zip archive");
  try {
    load_module(dir.file("bad.pt"));
    FAIL("no error");
  } catch (const Error& error) {
    CHECK(error.exit_code() == ExitCode::usage);
    CHECK_THAT(error.what(), Catch::StartsWith(dir.file("bad.pt") + ": not a loadable TorchScript model"));
    CHECK_THAT(error.hint(), Catch::Contains("torch.jit.script"));
  }
  CHECK_THROWS_WITH(load_module(dir.file("none.pt")), dir.file("none.pt") + ": model file not found");
}

TEST_CASE("DeepConvLSTM maps one float32 window to one score per class, deterministically in eval mode", "[model]") {
  torch::manual_seed(3);
  const DeepConvLstmConfig config;
  torch::jit::Module module = build_deepconvlstm(config);
  const at::Tensor x = torch::randn({1, config.in_channels, config.window});
  module.eval();
  const at::Tensor out = module.forward({x}).toTensor();
  CHECK(out.sizes() == at::IntArrayRef({1, config.num_classes}));
  CHECK(out.scalar_type() == torch::kFloat32);
  CHECK(torch::equal(module.forward({x}).toTensor(), out));  // dropout is off
  // 4 convs (64*(6*5+1) + 3*64*(64*5+1)), 2 LSTM layers (4*128*(64+128+2) + 4*128*(128+128+2)), out (12*(128+1)).
  CHECK(count_parameters(module) == 63616 + 231424 + 1548);

  // In training mode the paper's dropouts are active.
  module.train(true);
  torch::NoGradGuard no_grad;
  CHECK_FALSE(torch::equal(module.forward({x}).toTensor(), out));
}

TEST_CASE("DeepConvLSTM is not a layer chain: its forward does work between the children", "[model]") {
  const torch::jit::Module module = build_deepconvlstm(DeepConvLstmConfig{});
  CHECK(child_names(module) == std::vector<std::string>{"conv1", "conv2", "conv3", "conv4", "lstm", "out"});
  try {
    discover_chain(module, "deepconvlstm");
    FAIL("discover_chain accepted DeepConvLSTM");
  } catch (const Error& error) {
    CHECK_THAT(error.what(), Catch::StartsWith("deepconvlstm: forward is not a layer chain"));
  }
}
