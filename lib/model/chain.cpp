#include "model/chain.h"

#include <map>
#include <optional>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "common/error.h"
#include "common/strings.h"

namespace hare::model {
namespace {

using torch::jit::Node;
using torch::jit::Value;

// The line of forward's TorchScript source that holds the node, for
// messages. For a loaded model this is the serialized code (what
// `print(model.code)` shows in Python), not the original Python.
std::string source_of(const Node* node) {
  const auto& range = node->sourceRange();
  if (!range.source()) return {};
  const std::string text = range.source()->text_str().str();
  if (range.start() >= text.size()) return {};
  const size_t begin = text.rfind('\n', range.start());
  const size_t line_start = begin == std::string::npos ? 0 : begin + 1;
  const size_t line_end = text.find('\n', range.start());
  std::string line(trim(text.substr(line_start, line_end == std::string::npos ? std::string::npos : line_end - line_start)));
  if (line.size() > 100) line = line.substr(0, 97) + "...";
  return line;
}

std::string describe_node(const Node* node) {
  std::string text = fmt::format("'{}'", node->kind().toQualString());
  const std::string source = source_of(node);
  if (!source.empty()) text += fmt::format(" (`{}`)", source);
  return text;
}

Error not_a_chain(const std::string& label, const std::string& why) {
  return Error(Error::Kind::input, fmt::format("forward is not a layer chain: {}", why), Location{label})
      .with_hint(
          "hare slices a model between top-level children that forward calls one after another, each taking "
          "the previous output; move other computation (residual adds, branches, reshapes) into a child module, "
          "e.g. nn.Sequential(Block1(), Block2(), ...), and export with torch.jit.script");
}

bool is_module_value(const Value* value) {
  const auto cls = value->type()->cast<c10::ClassType>();
  return cls && cls->is_module();
}

// Returns the chain's direct children in call order, or nothing (with the
// reason in *why) when forward is not a chain.
std::optional<std::vector<std::string>> chain_children(const torch::jit::Module& module, std::string* why) {
  if (!module.find_method("forward")) {
    *why = "the module has no forward method";
    return std::nullopt;
  }
  const auto graph = module.get_method("forward").graph();
  const auto inputs = graph->inputs();
  if (inputs.size() != 2) {
    *why = fmt::format("forward takes {} inputs; a chain takes exactly one tensor", inputs.size() - 1);
    return std::nullopt;
  }
  const Value* self = inputs[0];
  const Value* current = inputs[1];
  std::map<const Value*, std::string> children;  // values holding a direct child module
  std::vector<std::string> order;
  std::set<std::string> called;
  for (const Node* node : graph->nodes()) {
    const auto kind = node->kind();
    if (kind == c10::prim::Constant) continue;
    if (kind == c10::prim::GetAttr && node->input(0) == self && is_module_value(node->output())) {
      children[node->output()] = node->s(c10::attr::name);
      continue;
    }
    if (kind == c10::prim::CallMethod && node->s(c10::attr::name) == "forward" && node->inputs().size() == 2 &&
        children.count(node->input(0)) != 0 && node->input(1) == current && node->outputs().size() == 1) {
      const std::string& child = children[node->input(0)];
      if (!called.insert(child).second) {
        *why = fmt::format("child '{}' is called twice, at {}", child, describe_node(node));
        return std::nullopt;
      }
      order.push_back(child);
      current = node->output();
      continue;
    }
    if (kind == c10::prim::CallMethod && node->inputs().size() >= 2 && children.count(node->input(0)) != 0 &&
        node->input(1) != current) {
      *why = fmt::format("the first offending graph node is {}: it calls child '{}' on a value other than the "
                         "previous child's output (a branch or skip connection)",
                         describe_node(node), children[node->input(0)]);
      return std::nullopt;
    }
    if (kind == c10::prim::GetAttr && node->input(0) == self) {
      *why = fmt::format("the first offending graph node is {}: forward reads attribute '{}' that is not a child "
                         "module",
                         describe_node(node), node->s(c10::attr::name));
      return std::nullopt;
    }
    *why = fmt::format("the first offending graph node is {}: a chain's forward may only call its children in "
                       "order",
                       describe_node(node));
    return std::nullopt;
  }
  const auto outputs = graph->outputs();
  if (outputs.size() != 1 || outputs[0] != current) {
    *why = "forward does not return the last child's output";
    return std::nullopt;
  }
  if (order.empty()) {
    *why = "forward calls no child module";
    return std::nullopt;
  }
  return order;
}

void collect(const torch::jit::Module& module, const std::string& prefix, const std::vector<std::string>& order,
             const ChainOptions& options, std::vector<ChainLayer>& out) {
  for (const auto& name : order) {
    const torch::jit::Module child = module.attr(name).toModule();
    const std::string path = prefix.empty() ? name : prefix + "." + name;
    if (options.expand) {
      std::string ignored;
      if (auto grandchildren = chain_children(child, &ignored)) {
        collect(child, path, *grandchildren, options, out);
        continue;
      }
    }
    out.push_back(ChainLayer{path, type_name(child), child});
  }
}

}  // namespace

std::string type_name(const torch::jit::Module& module) {
  const auto qualified = module.type()->name();
  if (!qualified) return "?";
  return qualified->name();
}

bool is_chain(const torch::jit::Module& module) {
  std::string why;
  return chain_children(module, &why).has_value();
}

std::vector<ChainLayer> discover_chain(const torch::jit::Module& module, const std::string& model_label,
                                       const ChainOptions& options) {
  std::string why;
  const auto order = chain_children(module, &why);
  if (!order) throw not_a_chain(model_label, why);
  std::vector<ChainLayer> layers;
  collect(module, "", *order, options, layers);
  return layers;
}

}  // namespace hare::model
