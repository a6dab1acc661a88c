#include "torch_test.h"

#include "common/error.h"
#include "model/torch_boundary.h"
#include "test_util.h"

using namespace hare;
using namespace hare::model;

namespace {
std::string fixture(const std::string& name) { return test::python_fixtures() + "/" + name + ".pt"; }
}  // namespace

TEST_CASE("a model traced in training mode is refused: eval() cannot undo what the trace fixed", "[model]") {
  const std::string path = fixture("traced_training");
  CHECK(test::error_messages([&] { load_module(path); }) ==
        std::vector<std::string>{path + ": the model was traced in training mode: its graph runs aten::batch_norm "
                                        "with training fixed to true, which eval() cannot undo"});
  try {
    load_module(path);
  } catch (const Error& error) {
    CHECK(error.hint() == "call model.eval() before torch.jit.trace(model, example) and export it again");
    CHECK(error.exit_code() == ExitCode::usage);
  }
  // The same model traced in eval mode loads.
  CHECK_NOTHROW(load_module(fixture("traced12")));
}

TEST_CASE("a scripted model saved in training mode is switched to eval mode", "[model]") {
  torch::jit::Module module = load_module(fixture("scripted_training"));
  for (const auto& part : module.modules()) CHECK_FALSE(part.is_training());
  // Dropout is off: the same window gives the same scores twice.
  torch::NoGradGuard no_grad;
  const at::Tensor x = torch::randn({1, 6, 128});
  CHECK(torch::equal(module.forward({x}).toTensor(), module.forward({x}).toTensor()));
}

TEST_CASE("a model whose output is not one float32 score per class is named with what it gave", "[model]") {
  const std::string path = fixture("foreign10");
  torch::jit::Module module = load_module(path);
  CHECK_NOTHROW(check_model_fits_card(module, path, {1, 6, 128}, 10, Location{"c.yaml"}, "the card names"));
  CHECK(test::error_messages([&] {
          check_model_fits_card(module, path, {1, 6, 128}, 12, Location{"c.yaml"}, "the card names");
        }) == std::vector<std::string>{"c.yaml: " + path +
                                       " outputs [1, 10] for one window [1, 6, 128], but the card names 12 classes "
                                       "(expected [1, 12])"});
  // When the card is being written, the error is at the model.
  CHECK(test::error_messages([&] {
          check_model_fits_card(module, path, {1, 6, 128}, 12, Location{path}, "--classes names");
        }) == std::vector<std::string>{path + ": the model outputs [1, 10] for one window [1, 6, 128], but "
                                              "--classes names 12 classes (expected [1, 12])"});
  CHECK_THAT(test::error_messages([&] {
               check_model_fits_card(module, path, {1, 3, 128}, 10, Location{"c.yaml"}, "the card names");
             }).at(0),
             Catch::StartsWith("c.yaml: the model rejects the card's input_shape [1, 3, 128] ("));
  const std::string doubles = fixture("double_out");
  torch::jit::Module double_out = load_module(doubles);
  CHECK(test::error_messages([&] {
          check_model_fits_card(double_out, doubles, {1, 6, 128}, 12, Location{doubles}, "the card names");
        }) == std::vector<std::string>{doubles + ": the model outputs Double scores, and hare runs float32 models"});
}
