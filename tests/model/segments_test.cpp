#include "torch_test.h"

#include <filesystem>

#include <fmt/format.h>

#include "model/segments.h"
#include "model/slicing.h"
#include "model/torch_boundary.h"
#include "test_util.h"

using namespace hare;
using namespace hare::model;

namespace {

std::vector<std::string> names_of(const std::vector<Segment>& segments) {
  std::vector<std::string> names;
  for (const auto& segment : segments) names.push_back(segment.name);
  return names;
}

std::vector<Segment> segments_of(const std::string& zoo_name, bool expand = false) {
  const std::string path = test::python_zoo() + "/" + zoo_name + ".pt";
  return discover_segments(load_module(path), path, SegmentOptions{expand});
}

// The model sliced at every segment (slices written into `dir`), checked
// against the whole model on 16 random windows.
EquivalenceReport sliced_at_every_segment(const std::string& model, size_t segments, const test::TempDir& dir,
                                          const std::string& prefix) {
  std::vector<SliceSpec> specs;
  std::vector<std::string> paths;
  for (size_t k = 0; k < segments; ++k) {
    specs.push_back({static_cast<int>(k), static_cast<int>(k)});
    paths.push_back(dir.file(fmt::format("{}-{}.pt", prefix, k + 1)));
  }
  write_slices(model, false, specs, paths);
  return check_equivalence(model, paths, {}, {1, 6, 128}, 16);
}

}  // namespace

TEST_CASE("a chain's segments are its layers, as before segments", "[model]") {
  const std::string path = test::source_path("models/hare-cnn.pt");
  const auto segments = discover_segments(load_module(path), path);
  CHECK(names_of(segments) == std::vector<std::string>{"conv1", "conv2", "conv3", "conv4", "pool", "fc1", "out"});
  CHECK(segments.front().type == "ConvBlock");
}

TEST_CASE("models that are not chains are cut where one tensor crosses, between modules", "[model]") {
  for (const std::string form : {"scripted", "traced"}) {
    INFO(form);
    // F.relu and the permute join the conv before them; out[:, -1] the LSTM.
    CHECK(names_of(segments_of("deepconvlstm." + form)) ==
          std::vector<std::string>{"conv1", "conv2", "conv3", "conv4", "lstm", "dropout", "fc"});
    // Residual adds in the top-level forward stay with their block.
    CHECK(names_of(segments_of("resnet1d." + form)) == std::vector<std::string>{"stem", "block1", "block2", "head"});
    // Two per-sensor branches: no cut between them, one after the cat.
    CHECK(names_of(segments_of("twobranch." + form)) == std::vector<std::string>{"chest+ankle", "fuse", "head"});
    CHECK(names_of(segments_of("inceptiontime." + form)) == std::vector<std::string>{"inc1", "inc2", "inc3", "fc"});
    CHECK(names_of(segments_of("transformer." + form)) == std::vector<std::string>{"embed", "encoder", "classifier"});
    CHECK(names_of(segments_of("gruhead." + form)) == std::vector<std::string>{"features", "gru", "out"});
  }
  // Finer units: a Sequential's layers. (The encoder's layers are not cut:
  // its forward keeps more than one value live across them.)
  CHECK(names_of(segments_of("gruhead.scripted", true)) ==
        std::vector<std::string>{"features.0", "features.1", "features.2", "features.3", "features.4", "features.5",
                                 "gru", "out"});
  // A segment spanning a module and modules inside it is named by the outer one.
  CHECK(names_of(segments_of("transformer.scripted", true)) ==
        std::vector<std::string>{"embed", "encoder", "classifier"});
}

TEST_CASE("a wrapped model is cut inside the model it wraps, scripted or traced", "[model]") {
  test::TempDir dir;
  for (const std::string form : {"scripted", "traced"}) {
    INFO(form);
    // forward(x) = self.model(x.permute(0, 2, 1)): the units are the
    // wrapped model's children; its own F.relu, transposes, softmax and
    // weighted sum join them; the attention keeps two tensors live until
    // the sum, so attn and that sum are one segment.
    const auto wrapped = segments_of("wrapped." + form);
    CHECK(names_of(wrapped) ==
          std::vector<std::string>{"model.embed", "model.conv", "model.gru", "model.attn", "model.fc"});
    // forward(x) = self.net(x), a Sequential: a chain of one layer, cut inside.
    const auto chain = segments_of("wrapped_chain." + form);
    CHECK(names_of(chain) ==
          std::vector<std::string>{"net.0", "net.1", "net.2", "net.3", "net.4", "net.5", "net.6"});
    for (const auto& [name, count] : {std::pair{std::string("wrapped"), wrapped.size()},
                                      std::pair{std::string("wrapped_chain"), chain.size()}}) {
      const std::string model = test::python_zoo() + "/" + name + "." + form + ".pt";
      const EquivalenceReport report = sliced_at_every_segment(model, count, dir, name + "-" + form);
      CHECK(report.max_abs_diff <= 1e-5);
      CHECK(report.passed);
    }
  }
  // The card lists the wrapper's one child, as the profile's top level.
  const std::string model = test::python_zoo() + "/wrapped.traced.pt";
  CHECK(card_layers(load_module(model), model) == std::vector<std::string>{"model"});
}

TEST_CASE("every zoo model, sliced at every segment, chains to exactly the whole model", "[model]") {
  test::TempDir dir;
  for (const std::string& name : test::python_zoo_names()) {
    INFO(name);
    const std::string model = test::python_zoo() + "/" + name + ".pt";
    const auto segments = discover_segments(load_module(model), model);
    const EquivalenceReport report = sliced_at_every_segment(model, segments.size(), dir, name);
    WARN(name << ": " << segments.size() << " segments, max |difference| " << report.max_abs_diff);
    CHECK(report.max_abs_diff <= 1e-5);
    CHECK(report.argmax_disagreements == 0);
    CHECK(report.passed);
  }
}

TEST_CASE("a graph-level slice loads in Python and holds only the parameters it uses", "[model]") {
  test::TempDir dir;
  const std::string model = test::python_zoo() + "/deepconvlstm.scripted.pt";
  const std::vector<std::string> paths = {dir.file("a.pt"), dir.file("b.pt")};
  write_slices(model, false, {{0, 3}, {4, 6}}, paths);
  const auto python = test::run(
      "/usr/bin/python3 -c \"import torch\nm = torch.jit.load('" + model + "')\na = torch.jit.load('" + paths[0] +
      "')\nb = torch.jit.load('" + paths[1] +
      "')\nx = torch.randn(1, 6, 128)\nprint(tuple(a(x).shape), float((b(a(x)) - m(x)).abs().max()) <= 1e-5)\"");
  INFO(python.err);
  CHECK(python.exit_code == 0);
  CHECK(python.out == "(1, 112, 32) True\n");
  // The convs' slice is a fraction of the file the whole model is (the LSTM holds most weights).
  CHECK(std::filesystem::file_size(paths[0]) < std::filesystem::file_size(model) / 2);
}

TEST_CASE("a model that returns a tuple, or takes two inputs, is refused naming the file and what to do", "[model]") {
  const std::string tuple = test::python_zoo() + "/tuple_output.scripted.pt";
  const auto tuple_error = test::error_messages([&] { discover_segments(load_module(tuple), tuple); });
  REQUIRE(tuple_error.size() == 1);
  CHECK_THAT(tuple_error[0], Catch::StartsWith(tuple + ": forward returns (Tensor, Tensor), not one tensor of class scores"));
  const std::string two = test::python_fixtures() + "/two_inputs.pt";
  const auto two_error = test::error_messages([&] { discover_segments(load_module(two), two); });
  REQUIRE(two_error.size() == 1);
  CHECK_THAT(two_error[0], Catch::StartsWith(two + ": forward takes 2 inputs; hare feeds a model one window tensor"));
}

TEST_CASE("a list a scripted forward appends to crosses cuts like any value; ModuleList items keep the list's name",
          "[model]") {
  test::TempDir dir;
  const std::string model = test::python_zoo() + "/multiscale.scripted.pt";
  const auto segments = discover_segments(load_module(model), model);
  // The list of features lives from the stem to the cat: no cut between.
  CHECK(names_of(segments) == std::vector<std::string>{"stem+blocks", "fc"});
  const std::vector<std::string> paths = {dir.file("a.pt"), dir.file("b.pt")};
  write_slices(model, false, {{0, 0}, {1, 1}}, paths);
  const EquivalenceReport report = check_equivalence(model, paths, {}, {1, 6, 128}, 16);
  CHECK(report.max_abs_diff == 0.0);
  CHECK(report.passed);
  // Finer: the blocks by their paths, not by their index alone.
  const auto expanded = names_of(discover_segments(load_module(model), model, SegmentOptions{true}));
  CHECK(expanded == std::vector<std::string>{"stem+blocks.0+blocks.1+blocks.2", "fc"});
}
