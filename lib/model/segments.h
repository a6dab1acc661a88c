#pragma once

// Segments: where any TorchScript model can be cut (../shared/DESIGN.md
// "Segments"; docs/design.md "Segments").
//
// A layer chain (chain.h) is cut between its children, as always: its
// segments are its layers, with the same names, so profiles and plans made
// before keep their meaning. Any other model — scripted or traced, with
// permutes, F.relu, residual adds, branches, LSTMs, attention — is cut at
// graph level:
//
//   1. The model is frozen (torch::jit::freeze_module: forward inlined,
//      parameters folded into tensor constants) in eval mode.
//   2. The top-level nodes of forward's graph are walked in order. Constants,
//      and lists or tuples built only of constants that nothing writes to
//      (torch::jit::AliasDb), are free: copied into every segment that uses
//      them. A list a scripted forward appends to is an ordinary value. A node with blocks (if, loop) is atomic;
//      a value used inside its blocks counts as used by the node.
//   3. A cut between node i and i+1 is valid when exactly one value produced
//      at or before i (or the input) is used after i (or returned), and that
//      value is a tensor (Couper's rule).
//   4. Every node belongs to a *unit*: the top-level child whose forward it
//      was inlined from (with expand: the innermost module's full path, e.g.
//      `encoder.layers.0`; items of a ModuleList keep the list's name). Nodes written in the top-level forward itself
//      (a permute, an add, `out[:, -1]`) join the unit before them (the first
//      such nodes, the unit after). Only valid cuts between two units are
//      used, so a segment is one or more whole units.
//      A wrapper — every module node inside one child, as in
//      forward(x) = self.model(x.permute(0, 2, 1)) — is seen through: the
//      units are that child's children ("model.conv1"), and the nodes of
//      the child's own forward count as the top level's. (A chain of one
//      child is such a wrapper too.)
//   5. A segment is named after its unit, or after every unit it spans
//      ("chest+ankle") when no valid cut separates them, less units inside
//      another it spans ("encoder", not "encoder+encoder.layers.0"); a
//      repeated name gets a suffix "_2", "_3", ... that no unit has.
//
// Each segment becomes a standalone module (one tensor in, one tensor out)
// holding only the constants its nodes use; a slice is a chain of them.
// A model with no inner cut is one segment.
//
// Internal header: includes torch.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/script.h>

namespace hare::model {

struct Segment {
  std::string name;  // "conv1", "features.0", "chest+ankle"
  std::string type;  // the unit's class, unmangled ("Conv1d", "LSTM"); "A+B" for several
  torch::jit::Module module;  // forward(Tensor) -> Tensor
  // The weights it holds: parameters and buffers (a chain's child), or the
  // tensor constants its graph reads (a frozen segment), bytes.
  int64_t param_bytes = 0;
};

struct SegmentOptions {
  // Finer units: a chain's children that are chains themselves are replaced
  // by their layers (chain.h); a graph's units are the innermost modules.
  bool expand = false;
};

// The model's segments in order. Throws an input Error naming `model_label`
// (the file) when forward does not take one tensor or does not return one.
std::vector<Segment> discover_segments(const torch::jit::Module& model, const std::string& model_label,
                                       const SegmentOptions& options = {});

// What a model card's `layers` lists for this model: the top-level children
// its segments come from, in order (data::top_level_layers).
std::vector<std::string> card_layers(const torch::jit::Module& model, const std::string& model_label);

}  // namespace hare::model
