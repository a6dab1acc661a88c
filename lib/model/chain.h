#pragma once

// Layer-chain discovery. A model is a layer chain when its top-level forward
// calls child modules one after another, each consuming the previous output
// and nothing else — what torch.jit.script(nn.Sequential(...)) produces, and
// what hare's reference models produce. The boundaries between consecutive
// children are the slice points.
//
// The check reads the TorchScript graph of forward: besides constants and
// attribute reads, the only nodes allowed at the top level are
// prim::CallMethod[forward] on a direct child, taking exactly the current
// value; the graph must return the last such output. Anything else (an add
// for a residual, a branch, a second input, a loop) is "the first offending
// graph node", and the model is refused with its kind and source line.
//
// Internal header: includes torch.

#include <string>
#include <vector>

#include <torch/script.h>

namespace hare::model {

struct ChainLayer {
  std::string name;  // dotted path from the root: "conv1", "features.0"
  std::string type;  // the child's class name, unmangled: "ConvBlock", "Conv1d"
  torch::jit::Module module;
};

struct ChainOptions {
  // Descend into children that are themselves chains (nested Sequentials),
  // replacing them by their own layers. Off: every top-level child is one layer.
  bool expand = false;
};

// Throws an input Error naming `model_label` (usually the file) when forward
// is not a chain.
std::vector<ChainLayer> discover_chain(const torch::jit::Module& module, const std::string& model_label,
                                       const ChainOptions& options = {});

// Whether forward is a chain (discover_chain would succeed).
bool is_chain(const torch::jit::Module& module);

// "__torch__.torch.nn.modules.conv.___torch_mangle_3.Conv1d" -> "Conv1d".
std::string type_name(const torch::jit::Module& module);

}  // namespace hare::model
