#include "model/segments.h"

#include <torch/csrc/jit/ir/alias_analysis.h>
#include <torch/csrc/jit/ir/constants.h>
#include <torch/csrc/jit/ir/ir.h>
#include <torch/csrc/jit/ir/scope.h>
#include <torch/csrc/jit/passes/freeze_module.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "common/error.h"
#include "common/strings.h"
#include "data/model_card.h"
#include "model/chain.h"
#include "model/torch_boundary.h"

namespace hare::model {
namespace {

using torch::jit::Graph;
using torch::jit::Node;
using torch::jit::Value;

// Constants, and lists or tuples of them that nothing changes: copied
// wherever used, never a reason a cut is invalid. (A list that a scripted
// forward builds with append is state: it crosses cuts like any value.)
bool is_free_kind(const Node* node, const std::unordered_set<const Node*>& free, const torch::jit::AliasDb& aliases) {
  const auto kind = node->kind();
  if (kind == c10::prim::Constant) return true;
  if (kind != c10::prim::ListConstruct && kind != c10::prim::TupleConstruct) return false;
  if (aliases.hasWriters(node->output())) return false;
  return std::all_of(node->inputs().begin(), node->inputs().end(),
                     [&](const Value* v) { return free.count(v->node()) != 0; });
}

// The module instances a node was inlined from, outermost first, as paths
// from the root ("encoder", "layers", "0", "linear1"); nested method calls on
// the same module ("SELF") and free functions (F.relu) add nothing.
struct Origin {
  std::vector<std::string> path;
  std::vector<std::string> types;
};

// The inliner names an instance by its last attribute only: `self.blocks[1]`
// is "1". The child of `parent` it means: a direct child of that name and
// class, else one inside a container child (ModuleList, ModuleDict,
// Sequential iterated in forward), whose name it then gets in front.
std::optional<std::pair<std::vector<std::string>, torch::jit::Module>> find_instance(
    const torch::jit::Module& parent, const std::string& name, const std::string& class_name) {
  // By class name: the frozen model is a clone, with types of its own.
  const auto matches = [&](const torch::jit::Module& m) { return type_name(m) == class_name; };
  for (const auto& child : parent.named_children()) {
    if (child.name == name && matches(child.value)) return std::make_pair(std::vector<std::string>{name}, child.value);
  }
  for (const auto& container : parent.named_children()) {
    for (const auto& child : container.value.named_children()) {
      if (child.name == name && matches(child.value)) {
        return std::make_pair(std::vector<std::string>{container.name, name}, child.value);
      }
    }
  }
  return std::nullopt;
}

Origin origin_of(const Node* node, const torch::jit::Module& root) {
  Origin origin;
  const auto callstack = node->callstack();
  if (!callstack) return origin;
  torch::jit::Module current = root;
  for (const auto& entry : (*callstack)->vec()) {
    const auto& info = std::get<torch::jit::kModuleInstanceInfo>(entry);
    if (!info || info->instance_name().empty() || info->instance_name() == "SELF") continue;
    const auto type = info->class_type();
    const std::string type_name = type && type->name() ? type->name()->name() : "?";
    if (auto found = find_instance(current, info->instance_name(), type_name)) {
      for (const auto& part : found->first) {
        origin.path.push_back(part);
        origin.types.push_back(type_name);
      }
      current = found->second;
    } else {
      origin.path.push_back(info->instance_name());
      origin.types.push_back(type_name);
    }
  }
  return origin;
}

// Every value a top-level node reads from outside itself, its blocks included.
void outer_uses(const Node* node, const torch::jit::Block* top, std::vector<const Value*>& out) {
  for (const Value* v : node->inputs()) {
    if (v->node()->owningBlock() == top || v->node()->kind() == c10::prim::Param) out.push_back(v);
  }
  for (const torch::jit::Block* block : node->blocks()) {
    for (const Node* inner : block->nodes()) outer_uses(inner, top, out);
    for (const Value* v : block->outputs()) {
      if (v->node()->owningBlock() == top || v->node()->kind() == c10::prim::Param) out.push_back(v);
    }
  }
}

int64_t tensor_bytes(const at::Tensor& t) { return t.numel() * static_cast<int64_t>(t.element_size()); }

// The bytes of the tensors in a constant (a tensor, or a list or tuple of them).
int64_t constant_bytes(const c10::IValue& value) {
  if (value.isTensor()) return tensor_bytes(value.toTensor());
  int64_t total = 0;
  if (value.isList()) {
    for (const c10::IValue& element : value.toListRef()) total += constant_bytes(element);
  } else if (value.isTuple()) {
    for (const c10::IValue& element : value.toTupleRef().elements()) total += constant_bytes(element);
  }
  return total;
}

int64_t graph_constant_bytes(const torch::jit::Block* block) {
  int64_t total = 0;
  for (const Node* node : block->nodes()) {
    if (node->kind() == c10::prim::Constant && node->hasAttribute(c10::attr::value)) {
      if (const auto value = torch::jit::toIValue(node->output())) total += constant_bytes(*value);
    }
    for (const torch::jit::Block* inner : node->blocks()) total += graph_constant_bytes(inner);
  }
  return total;
}

int64_t module_bytes(const torch::jit::Module& module) {
  int64_t total = 0;
  for (const auto& p : module.parameters()) total += tensor_bytes(p);
  for (const auto& b : module.buffers()) total += tensor_bytes(b);
  return total;
}

Error not_cuttable(const std::string& label, const std::string& why, const std::string& hint) {
  return Error(Error::Kind::input, why, Location{label}).with_hint(hint);
}

// A unit: a run of consecutive top-level nodes from one module (step 4 of
// the header).
struct Unit {
  std::string name;
  std::string type;
};

class Segmenter {
 public:
  Segmenter(const torch::jit::Module& model, const std::string& label, bool expand)
      : label_(label), expand_(expand), model_(model) {
    torch::jit::Module eval = model.clone();
    eval.eval();
    try {
      frozen_ = torch::jit::freeze_module(eval);
    } catch (const std::exception& error) {
      throw not_cuttable(label, fmt::format("cannot freeze the model to find its cut points ({})",
                                            short_torch_message(error)),
                         "export it with torch.jit.script or torch.jit.trace in eval mode");
    }
    graph_ = frozen_.get_method("forward").graph();
  }

  std::vector<Segment> run() {
    check_signature();
    collect_nodes();
    crossings_ = valid_cuts();
    const std::vector<size_t> unit_of = assign_units();
    // Cuts between two units only.
    std::vector<int> chosen;
    for (const auto& [i, value] : crossings_) {
      if (unit_of[static_cast<size_t>(i)] != unit_of[static_cast<size_t>(i) + 1]) chosen.push_back(i);
    }
    std::vector<Segment> segments;
    std::set<std::string> taken;
    int first = 0;
    chosen.push_back(static_cast<int>(nodes_.size()) - 1);
    for (int last : chosen) {
      const std::string name = unique_name(segment_name(unit_of, first, last), taken);
      torch::jit::Module module = build(first, last, segments.size() + 1);
      const int64_t bytes = graph_constant_bytes(module.get_method("forward").graph()->block());
      segments.push_back(Segment{name, segment_type(unit_of, first, last), module, bytes});
      first = last + 1;
    }
    return segments;
  }

 private:
  void check_signature() {
    const auto inputs = graph_->inputs();
    if (inputs.size() != 2) {
      throw not_cuttable(label_,
                         fmt::format("forward takes {} inputs; hare feeds a model one window tensor", inputs.size() - 1),
                         "wrap the model in a module whose forward(x) takes the window [1, channels, samples]");
    }
    if (!inputs[0]->uses().empty()) {
      throw not_cuttable(label_, "forward still reads module attributes after freezing (an attribute it changes?)",
                         "export a model whose forward only reads its parameters and buffers");
    }
    const auto outputs = graph_->outputs();
    if (outputs.size() != 1 || !outputs[0]->type()->isSubtypeOf(*c10::TensorType::get())) {
      throw not_cuttable(label_,
                         fmt::format("forward returns {}, not one tensor of class scores",
                                     outputs.size() == 1 ? outputs[0]->type()->str() : "several values"),
                         "return the logits tensor alone (e.g. wrap the model: forward(x) = model(x)[0])");
    }
  }

  void collect_nodes() {
    const torch::jit::AliasDb aliases(graph_, /*isFrozen=*/true);
    for (const Node* node : graph_->nodes()) {
      if (is_free_kind(node, free_, aliases)) {
        free_.insert(node);
        continue;
      }
      nodes_.push_back(const_cast<Node*>(node));
    }
    if (nodes_.empty()) {
      throw not_cuttable(label_, "forward computes nothing from its input", "export the model itself");
    }
  }

  // Step 3: the positions i after which exactly one tensor is live, and that tensor.
  std::map<int, Value*> valid_cuts() const {
    const torch::jit::Block* top = graph_->block();
    const int n = static_cast<int>(nodes_.size());
    std::unordered_map<const Value*, int> last_use;
    for (int k = 0; k < n; ++k) {
      std::vector<const Value*> uses;
      outer_uses(nodes_[static_cast<size_t>(k)], top, uses);
      for (const Value* v : uses) last_use[v] = std::max(last_use[v], k);
    }
    for (const Value* v : graph_->outputs()) last_use[v] = n;
    std::unordered_set<const Value*> live;
    const Value* input = graph_->inputs()[1];
    if (last_use.count(input)) live.insert(input);
    std::map<int, Value*> cuts;
    for (int i = 0; i + 1 < n; ++i) {
      for (const Value* out : nodes_[static_cast<size_t>(i)]->outputs()) {
        if (const auto it = last_use.find(out); it != last_use.end() && it->second > i) live.insert(out);
      }
      for (auto it = live.begin(); it != live.end();) {
        it = last_use.at(*it) <= i ? live.erase(it) : std::next(it);
      }
      if (live.size() == 1 && (*live.begin())->type()->isSubtypeOf(*c10::TensorType::get())) {
        cuts[i] = const_cast<Value*>(*live.begin());
      }
    }
    return cuts;
  }

  // Step 4: each node's unit index; consecutive nodes of one module share one.
  std::vector<size_t> assign_units() {
    std::vector<Origin> origins;
    for (const Node* node : nodes_) origins.push_back(origin_of(node, model_));
    // A wrapper (forward(x) = self.model(x.permute(0, 2, 1)), as a user
    // adapts a model to hare's window): the path every module node shares
    // is the wrapper's, and the units are one level below it; the nodes of
    // the wrapped model's own forward are then like the top level's.
    const size_t wrapped = wrapper_depth(origins);
    std::vector<std::string> key(nodes_.size());
    std::vector<std::string> type(nodes_.size());
    for (size_t k = 0; k < nodes_.size(); ++k) {
      const Origin& origin = origins[k];
      if (origin.path.size() <= wrapped) continue;
      const size_t depth = expand_ ? origin.path.size() : wrapped + 1;
      key[k] = join(std::vector<std::string>(origin.path.begin(), origin.path.begin() + static_cast<long>(depth)), ".");
      type[k] = origin.types[depth - 1];
    }
    // Nodes of the top-level forward join the unit before them; leading ones the unit after.
    for (size_t k = 1; k < nodes_.size(); ++k) {
      if (key[k].empty()) key[k] = key[k - 1], type[k] = type[k - 1];
    }
    for (size_t k = nodes_.size(); k-- > 1;) {
      if (key[k - 1].empty()) key[k - 1] = key[k], type[k - 1] = type[k];
    }
    std::vector<size_t> unit_of(nodes_.size());
    for (size_t k = 0; k < nodes_.size(); ++k) {
      if (k == 0 || key[k] != key[k - 1]) units_.push_back(Unit{key[k].empty() ? "forward" : key[k], type[k].empty() ? "ops" : type[k]});
      unit_of[k] = units_.size() - 1;
    }
    return unit_of;
  }

  // The length of the module path all module nodes share, when some go
  // deeper (a wrapper, or wrappers, around the model); else 0.
  static size_t wrapper_depth(const std::vector<Origin>& origins) {
    std::optional<std::vector<std::string>> common;
    size_t deepest = 0;
    for (const Origin& origin : origins) {
      if (origin.path.empty()) continue;
      deepest = std::max(deepest, origin.path.size());
      if (!common) {
        common = origin.path;
        continue;
      }
      const auto differ = std::mismatch(common->begin(), common->end(), origin.path.begin(), origin.path.end());
      common->erase(differ.first, common->end());
    }
    return common && deepest > common->size() ? common->size() : 0;
  }

  // Every unit it spans, in order, each once, less those inside another it
  // spans: "chest+ankle"; "encoder" for encoder and encoder.layers.0.
  std::string segment_name(const std::vector<size_t>& unit_of, int first, int last) const {
    std::vector<std::string> names;
    for (size_t u = unit_of[static_cast<size_t>(first)]; u <= unit_of[static_cast<size_t>(last)]; ++u) {
      if (std::find(names.begin(), names.end(), units_[u].name) == names.end()) names.push_back(units_[u].name);
    }
    const auto inside_another = [&](const std::string& name) {
      return std::any_of(names.begin(), names.end(),
                         [&](const std::string& outer) { return name.rfind(outer + ".", 0) == 0; });
    };
    std::vector<std::string> outermost;
    for (const std::string& name : names) {
      if (!inside_another(name)) outermost.push_back(name);
    }
    return join(outermost, "+");
  }

  std::string segment_type(const std::vector<size_t>& unit_of, int first, int last) const {
    std::vector<std::string> types;
    for (size_t u = unit_of[static_cast<size_t>(first)]; u <= unit_of[static_cast<size_t>(last)]; ++u) {
      if (std::find(types.begin(), types.end(), units_[u].type) == types.end()) types.push_back(units_[u].type);
    }
    if (types.size() > 3) types = {types.front(), "...", types.back()};
    return join(types, "+");
  }

  // A repeated name gets "_2", "_3", ..., never one that a unit has.
  std::string unique_name(const std::string& name, std::set<std::string>& taken) const {
    const auto is_unit = [&](const std::string& n) {
      return std::any_of(units_.begin(), units_.end(), [&](const Unit& u) { return u.name == n; });
    };
    std::string candidate = name;
    for (int k = 2; taken.count(candidate) != 0 || (candidate != name && is_unit(candidate)); ++k) {
      candidate = fmt::format("{}_{}", name, k);
    }
    taken.insert(candidate);
    return candidate;
  }

  // The value that crosses the cut after node `i` (-1: the input; the last
  // node: the output).
  Value* crossing(int i) const {
    if (i < 0) return graph_->inputs()[1];
    if (i + 1 >= static_cast<int>(nodes_.size())) return graph_->outputs()[0];
    return crossings_.at(i);
  }

  // Nodes first..last as a module: forward(x) -> the value crossing after last.
  torch::jit::Module build(int first, int last, size_t number) {
    auto cu = std::make_shared<torch::jit::CompilationUnit>();
    torch::jit::Module module(c10::QualifiedName(fmt::format("__torch__.hare.Segment{}", number)), cu, true);
    module.register_attribute("training", c10::BoolType::get(), false);
    auto graph = std::make_shared<Graph>();
    graph->addInput("self")->setType(module.type());
    Value* x = graph->addInput("x")->setType(c10::TensorType::get());
    std::unordered_map<const Value*, Value*> env;
    env[crossing(first - 1)] = x;
    std::function<Value*(Value*)> map = [&](Value* v) -> Value* {
      if (const auto it = env.find(v); it != env.end()) return it->second;
      if (free_.count(v->node()) == 0) {
        throw failure("{}: segment {} reads a value from outside it ({}): please report this", label_, number,
                      v->debugName());
      }
      Node* copy = graph->insertNode(graph->createClone(v->node(), map));
      for (size_t k = 0; k < copy->outputs().size(); ++k) env[v->node()->output(k)] = copy->output(k);
      return env.at(v);
    };
    for (int k = first; k <= last; ++k) {
      Node* node = nodes_[static_cast<size_t>(k)];
      Node* copy = graph->insertNode(graph->createClone(node, map));
      for (size_t o = 0; o < node->outputs().size(); ++o) env[node->output(o)] = copy->output(o);
    }
    graph->registerOutput(map(crossing(last)));
    auto* function = cu->create_function(c10::QualifiedName(*module.type()->name(), "forward"), graph);
    module.type()->addMethod(function);
    return module;
  }

  std::string label_;
  bool expand_;
  torch::jit::Module model_;  // as loaded: its module tree names the units
  torch::jit::Module frozen_;
  std::shared_ptr<Graph> graph_;
  std::vector<Node*> nodes_;  // top-level, not free, in order
  std::unordered_set<const Node*> free_;
  std::vector<Unit> units_;
  std::map<int, Value*> crossings_;  // valid cut (after node i) -> the one tensor crossing it
};

}  // namespace

std::vector<Segment> discover_segments(const torch::jit::Module& model, const std::string& model_label,
                                       const SegmentOptions& options) {
  // A chain keeps its children as segments: the same modules, names and
  // profiles as before segments existed.
  // A chain of one child (forward(x) = self.model(x)) is a wrapper: cut
  // inside the child, as any wrapper.
  if (is_chain(model)) {
    std::vector<ChainLayer> layers = discover_chain(model, model_label, ChainOptions{options.expand});
    if (layers.size() > 1 || layers.front().module.children().size() == 0) {
      std::vector<Segment> segments;
      for (auto& layer : layers) {
        segments.push_back(Segment{layer.name, layer.type, layer.module, module_bytes(layer.module)});
      }
      return segments;
    }
  }
  return Segmenter(model, model_label, options.expand).run();
}

std::vector<std::string> card_layers(const torch::jit::Module& model, const std::string& model_label) {
  std::vector<std::string> names;
  for (const Segment& segment : discover_segments(model, model_label)) names.push_back(segment.name);
  return data::top_level_layers(names);
}

}  // namespace hare::model
