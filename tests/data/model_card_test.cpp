#include <catch2/catch.hpp>

#include "common/error.h"
#include "data/model_card.h"
#include "fixtures/sample_card.h"
#include "test_util.h"

using namespace hare;
using namespace hare::data;

TEST_CASE("the model card round-trips through YAML", "[data]") {
  test::TempDir dir;
  write_model_card(dir.file("m.yaml"), test::sample_card());
  const ModelCard card = read_model_card(dir.file("m.yaml"));
  CHECK(card.channels == test::sample_card().channels);
  CHECK(card.normalization.std == test::sample_card().normalization.std);
  CHECK(card.input_shape == std::vector<int64_t>{1, 2, 8});
  CHECK(card.validation.accuracy == Approx(0.6667));
  CHECK(card.validation.confusion == test::sample_card().validation.confusion);
  CHECK(card_path_for_model("models/ref.pt") == "models/ref.yaml");
}

TEST_CASE("a card whose shape disagrees with its channels is refused at the line", "[data]") {
  test::TempDir dir;
  std::string text = model_card_to_yaml(test::sample_card());
  const size_t at = text.find("input_shape: [1, 2, 8]");
  REQUIRE(at != std::string::npos);
  text.replace(at, 22, "input_shape: [1, 3, 8]");
  test::write_text(dir.file("bad.yaml"), text);
  CHECK_THROWS_WITH(read_model_card(dir.file("bad.yaml")),
                    Catch::Contains("bad.yaml:") && Catch::Contains("input_shape must be [1, 2, 8]"));
}
