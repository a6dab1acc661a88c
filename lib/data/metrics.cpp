#include "data/metrics.h"

#include <cmath>

#include <yaml-cpp/yaml.h>

#include "common/error.h"
#include "common/yaml_util.h"

#include <fmt/format.h>

namespace hare::data {

ClassificationReport classification_report(const std::vector<int>& labels, const std::vector<int>& predictions,
                                           const std::vector<std::string>& classes) {
  if (labels.size() != predictions.size()) {
    throw failure("classification_report: {} labels but {} predictions", labels.size(), predictions.size());
  }
  const size_t k = classes.size();
  ClassificationReport report;
  report.classes = classes;
  report.confusion.assign(k, std::vector<size_t>(k, 0));
  size_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0) continue;
    const auto truth = static_cast<size_t>(labels[i]);
    const auto guess = static_cast<size_t>(predictions[i]);
    if (truth >= k || guess >= k) throw failure("classification_report: class index out of range");
    ++report.confusion[truth][guess];
    ++report.windows;
    if (truth == guess) ++correct;
  }
  report.accuracy = report.windows ? static_cast<double>(correct) / static_cast<double>(report.windows) : 0.0;
  report.recall.assign(k, 0.0);
  report.precision.assign(k, 0.0);
  report.f1.assign(k, 0.0);
  report.support.assign(k, 0);
  double f1_sum = 0.0;
  size_t f1_count = 0;
  for (size_t c = 0; c < k; ++c) {
    size_t predicted = 0;
    for (size_t t = 0; t < k; ++t) predicted += report.confusion[t][c];
    size_t actual = 0;
    for (size_t p = 0; p < k; ++p) actual += report.confusion[c][p];
    const auto hit = static_cast<double>(report.confusion[c][c]);
    report.support[c] = actual;
    report.recall[c] = actual ? hit / static_cast<double>(actual) : 0.0;
    report.precision[c] = predicted ? hit / static_cast<double>(predicted) : 0.0;
    const double denominator = report.recall[c] + report.precision[c];
    report.f1[c] = denominator > 0.0 ? 2.0 * report.recall[c] * report.precision[c] / denominator : 0.0;
    if (actual > 0 || predicted > 0) {
      f1_sum += report.f1[c];
      ++f1_count;
    }
  }
  report.macro_f1 = f1_count ? f1_sum / static_cast<double>(f1_count) : 0.0;
  return report;
}

namespace {
// Four decimals are plenty for scores; yaml-cpp would print 17 digits.
std::string round4(double x) { return fmt::format("{:.4f}", x); }
}  // namespace

void emit_report(YAML::Emitter& out, const ClassificationReport& report) {
  out << YAML::Key << "accuracy" << YAML::Value << round4(report.accuracy);
  out << YAML::Key << "macro_f1" << YAML::Value << round4(report.macro_f1);
  out << YAML::Key << "windows" << YAML::Value << report.windows;
  out << YAML::Key << "per_class" << YAML::Value << YAML::BeginMap;
  for (size_t c = 0; c < report.classes.size(); ++c) {
    out << YAML::Key << report.classes[c] << YAML::Value << YAML::Flow << YAML::BeginMap;
    out << YAML::Key << "recall" << YAML::Value << round4(report.recall[c]);
    out << YAML::Key << "precision" << YAML::Value << round4(report.precision[c]);
    out << YAML::Key << "f1" << YAML::Value << round4(report.f1[c]);
    out << YAML::Key << "support" << YAML::Value << report.support[c];
    out << YAML::EndMap;
  }
  out << YAML::EndMap;
  out << YAML::Key << "confusion_matrix" << YAML::Comment("rows: true class, columns: predicted, in class order")
      << YAML::Value << YAML::BeginSeq;
  for (const auto& row : report.confusion) out << YAML::Flow << row;
  out << YAML::EndSeq;
}

ClassificationReport read_report(yaml::Reader& r, const YAML::Node& node, const std::vector<std::string>& classes) {
  ClassificationReport report;
  report.classes = classes;
  r.keys(node, {"accuracy", "macro_f1", "windows", "per_class", "confusion_matrix"});
  r.optional(node, "accuracy", [&](const YAML::Node& n) { report.accuracy = r.positive(n, "accuracy", true); });
  r.optional(node, "macro_f1", [&](const YAML::Node& n) { report.macro_f1 = r.positive(n, "macro_f1", true); });
  r.optional(node, "windows", [&](const YAML::Node& n) { report.windows = static_cast<size_t>(r.at_least(n, "windows", 0)); });
  const YAML::Node per_class = r.optional_section(node, "per_class");
  if (per_class) {
    r.keys(per_class, classes);
    for (const auto& name : classes) {
      double recall = 0.0, precision = 0.0, f1 = 0.0;
      size_t support = 0;
      const YAML::Node entry = r.optional_section(per_class, name);
      r.keys(entry, {"recall", "precision", "f1", "support"});
      r.optional(entry, "recall", [&](const YAML::Node& n) { recall = r.positive(n, "recall", true); });
      r.optional(entry, "precision", [&](const YAML::Node& n) { precision = r.positive(n, "precision", true); });
      r.optional(entry, "f1", [&](const YAML::Node& n) { f1 = r.positive(n, "f1", true); });
      r.optional(entry, "support", [&](const YAML::Node& n) { support = static_cast<size_t>(r.at_least(n, "support", 0)); });
      report.recall.push_back(recall);
      report.precision.push_back(precision);
      report.f1.push_back(f1);
      report.support.push_back(support);
    }
  }
  r.optional(node, "confusion_matrix", [&](const YAML::Node& rows) {
    if (!rows.IsSequence()) throw r.error(rows, "'confusion_matrix' must be a list of rows");
    for (const auto& row : rows) {
      if (!row.IsSequence() || row.size() != classes.size()) {
        throw r.error(row, fmt::format("each 'confusion_matrix' row must list {} counts", classes.size()));
      }
      std::vector<size_t> counts;
      for (const auto& count : row) counts.push_back(static_cast<size_t>(r.at_least(count, "confusion_matrix", 0)));
      report.confusion.push_back(counts);
    }
  });
  return report;
}

}  // namespace hare::data
