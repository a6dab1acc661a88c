#include <catch2/catch.hpp>

#include "common/error.h"
#include "data/normalization.h"

using namespace hare;
using namespace hare::data;

namespace {
Recording constant_plus(std::vector<float> xs) {
  Recording rec;
  rec.channels = {"x", "k"};
  rec.num_samples = xs.size();
  for (float x : xs) {
    rec.values.push_back(x);
    rec.values.push_back(5.0f);  // a constant channel
  }
  rec.labels.assign(xs.size(), 0);
  rec.segments.assign(xs.size(), 0);
  rec.lines.assign(xs.size(), 1);
  return rec;
}
}  // namespace

TEST_CASE("normalization is fitted per channel over every training sample", "[data]") {
  const Normalization norm = fit_normalization({constant_plus({1, 3}), constant_plus({5, 7})});
  CHECK(norm.mean[0] == Approx(4.0));
  CHECK(norm.std[0] == Approx(std::sqrt(5.0)));
  CHECK(norm.mean[1] == Approx(5.0));
  CHECK(norm.std[1] == Normalization::kMinStd);  // a constant channel does not divide by zero

  WindowSet set;
  set.channels = 2;
  set.window = 2;
  set.data = {4.0f, 6.0f, 5.0f, 5.0f};
  set.labels = {0};
  set.origins.resize(1);
  apply_normalization(norm, set);
  CHECK(set.data[0] == Approx(0.0));
  CHECK(set.data[1] == Approx(2.0 / std::sqrt(5.0)));
  CHECK(set.data[2] == Approx(0.0));

  Normalization wrong;
  wrong.mean = {0.0};
  wrong.std = {1.0};
  CHECK_THROWS_AS(apply_normalization(wrong, set), Error);
}
