#pragma once

// Cutting a model into stage slices at its segments (segments.h), and
// proving the slices equivalent to the whole model. Torch-free interface;
// slicing.cpp is torch.
//
// A slice is a standalone TorchScript module holding segments i..j (for a
// chain the very same child modules, weights included; otherwise the
// segments' own modules, with only the constants they use) whose forward
// calls them in order. Names such as "0" or "block1+block2" are not valid
// identifiers in TorchScript source, so slices name them l_<name>.

#include <string>
#include <utility>
#include <vector>

#include "runtime/codec.h"

namespace hare::model {

struct SliceSpec {
  int first = 0;  // 0-based layer indices of the chain, inclusive
  int last = 0;
};

// Loads the model, discovers its segments (with `expand` as the profile did),
// and saves one slice per spec into `paths` (same length as `specs`).
void write_slices(const std::string& model_path, bool expand, const std::vector<SliceSpec>& specs,
                  const std::vector<std::string>& paths);

struct EquivalenceReport {
  int real_windows = 0;
  int random_windows = 0;
  double max_abs_diff = 0.0;
  int argmax_disagreements = 0;
  bool passed = false;
  std::vector<std::vector<int64_t>> slice_input_shapes;  // for one window, per slice
  // With lossy codecs on the plan's links, the same windows again, each
  // activation compressed and decompressed where it crosses a link. The
  // slices must still match exactly without the codecs; with them, the
  // argmax must agree with the whole model on at least `lossy_required` of
  // the real windows.
  bool lossy = false;
  double lossy_max_abs_diff = 0.0;
  double lossy_agreement = 1.0;  // share of real windows with the same argmax
  double lossy_required = 1.0;
};

// Runs `windows` ([N, C, W] floats, already normalized) plus `random` random
// windows through the whole model and through the slices loaded from
// `slice_paths` chained in order; passes when every output is within
// `tolerance` and every argmax agrees.
// `codecs` (empty = none): the codec on the way into each slice, then the
// one to the sink (slices + 1 entries; float32 where no link is crossed).
EquivalenceReport check_equivalence(const std::string& model_path, const std::vector<std::string>& slice_paths,
                                    const std::vector<float>& windows, const std::vector<int64_t>& window_shape,
                                    int random, double tolerance = 1e-5, const std::vector<Codec>& codecs = {});

// The argmax agreement a lossy codec must keep on real windows: 99% with
// float16 anywhere, 97% with int8.
double required_agreement(const std::vector<Codec>& codecs);

}  // namespace hare::model
