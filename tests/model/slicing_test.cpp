#include "torch_test.h"

#include <set>

#include "model/reference_model.h"
#include "model/slicing.h"
#include "model/torch_boundary.h"
#include "test_util.h"

using namespace hare;
using namespace hare::model;

namespace {
const std::string& fixtures() { return test::python_fixtures(); }
}  // namespace

TEST_CASE("slices of the reference model chain to exactly the whole model", "[model]") {
  test::TempDir dir;
  const std::string model = test::source_path("models/hare-cnn.pt");
  const std::vector<std::string> paths = {dir.file("s1.pt"), dir.file("s2.pt"), dir.file("s3.pt")};
  write_slices(model, false, {{0, 1}, {2, 4}, {5, 6}}, paths);
  const EquivalenceReport report = check_equivalence(model, paths, {}, {1, 6, 128}, 32);
  CHECK(report.passed);
  CHECK(report.random_windows == 32);
  CHECK(report.max_abs_diff == 0.0);

  // Each slice is standalone: Python loads it and it takes the previous slice's output.
  const auto python = test::run("/usr/bin/python3 -c \"import torch; y = torch.jit.load('" + paths[0] +
                                "')(torch.zeros(1, 6, 128)); print(tuple(torch.jit.load('" + paths[1] + "')(y).shape))\"");
  INFO(python.err);
  CHECK(python.exit_code == 0);
  CHECK(python.out == "(1, 256)\n");
}

TEST_CASE("slices of an expanded Python Sequential get valid names and match", "[model]") {
  test::TempDir dir;
  const std::string model = fixtures() + "/nested.pt";
  // Expanded: 0.0 0.1 1.0 1.1 2 3 4 -> cut after the first conv block's parts.
  const std::vector<std::string> paths = {dir.file("a.pt"), dir.file("b.pt")};
  write_slices(model, true, {{0, 2}, {3, 6}}, paths);
  CHECK(check_equivalence(model, paths, {}, {1, 6, 128}, 16).passed);
  const torch::jit::Module first = load_module(paths[0]);
  std::vector<std::string> names;
  for (const auto& child : first.named_children()) names.push_back(child.name);
  CHECK(names == std::vector<std::string>{"l_0_0", "l_0_1", "l_1_0"});
}

TEST_CASE("expanded names that flatten alike (block.0 and block_0) stay distinct in a slice", "[model]") {
  test::TempDir dir;
  const std::string model = fixtures() + "/collide.pt";
  // Expanded: block.0 block.1 block_0 flat head, all in one slice.
  const std::vector<std::string> paths = {dir.file("a.pt"), dir.file("b.pt")};
  write_slices(model, true, {{0, 2}, {3, 4}}, paths);
  CHECK(check_equivalence(model, paths, {}, {1, 6, 128}, 8).passed);
  const torch::jit::Module first = load_module(paths[0]);
  std::vector<std::string> names;
  for (const auto& child : first.named_children()) names.push_back(child.name);
  REQUIRE(names.size() == 3);
  CHECK(std::set<std::string>(names.begin(), names.end()).size() == 3);
}

TEST_CASE("a model whose slices do not reproduce it fails the equivalence check", "[model]") {
  test::TempDir dir;
  const std::string model = fixtures() + "/noisy.pt";
  const std::vector<std::string> paths = {dir.file("a.pt"), dir.file("b.pt")};
  write_slices(model, false, {{0, 1}, {2, 3}}, paths);
  const EquivalenceReport report = check_equivalence(model, paths, {}, {1, 6, 128}, 8);
  CHECK_FALSE(report.passed);
  CHECK(report.max_abs_diff > 1e-3);
}
