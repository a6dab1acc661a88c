#pragma once

// Classification metrics over windows: accuracy, per-class recall/precision/
// F1, macro-F1 (over the classes present in the truth or the predictions,
// as scikit-learn does) and the confusion matrix (rows = truth).

#include <string>
#include <vector>

namespace YAML {
class Emitter;
class Node;
}

namespace hare::yaml {
class Reader;
}

namespace hare::data {

struct ClassificationReport {
  size_t windows = 0;
  double accuracy = 0.0;
  double macro_f1 = 0.0;
  std::vector<std::string> classes;
  std::vector<double> recall;
  std::vector<double> precision;
  std::vector<double> f1;
  std::vector<size_t> support;
  std::vector<std::vector<size_t>> confusion;  // [truth][predicted]
};

// Windows whose label is negative (unlabelled) are ignored.
ClassificationReport classification_report(const std::vector<int>& labels, const std::vector<int>& predictions,
                                           const std::vector<std::string>& classes);

// Emits the report as YAML keys into an open map: accuracy, macro_f1,
// windows, per_class (recall, precision, f1, support), confusion_matrix.
void emit_report(YAML::Emitter& out, const ClassificationReport& report);
// The inverse of emit_report (for model cards), errors recorded in `r`
// (common/yaml_util.h); keys left out stay empty.
ClassificationReport read_report(yaml::Reader& r, const YAML::Node& node, const std::vector<std::string>& classes);

}  // namespace hare::data
