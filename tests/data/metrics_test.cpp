#include <catch2/catch.hpp>

#include "data/metrics.h"

using namespace hare::data;

TEST_CASE("accuracy, recall, precision, macro-F1 and the confusion matrix", "[data]") {
  // truth:      0 0 0 1 1 2
  // predicted:  0 0 1 1 1 1
  const auto report = classification_report({0, 0, 0, 1, 1, 2, -1}, {0, 0, 1, 1, 1, 1, 2}, {"a", "b", "c", "d"});
  CHECK(report.windows == 6);  // the unlabelled window is ignored
  CHECK(report.accuracy == Approx(4.0 / 6.0));
  CHECK(report.recall[0] == Approx(2.0 / 3.0));
  CHECK(report.precision[1] == Approx(2.0 / 4.0));
  CHECK(report.f1[2] == 0.0);
  // F1: a = 0.8, b = 2*(1*0.5)/1.5 = 2/3, c = 0; d is absent from truth and predictions.
  CHECK(report.macro_f1 == Approx((0.8 + 2.0 / 3.0 + 0.0) / 3.0));
  CHECK(report.confusion[0] == std::vector<size_t>{2, 1, 0, 0});
  CHECK(report.confusion[2] == std::vector<size_t>{0, 1, 0, 0});
}
