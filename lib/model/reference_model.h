#pragma once

// hare's reference HAR model: a 1D CNN built directly as TorchScript in C++
// (no Python at build or run time). Its forward is a layer chain — each
// top-level child consumes the previous child's output — so every boundary
// between children is a slice point:
//
//   [encoder      Encoder     conv1d (kernel = stride = S) -> batch_norm: a compact code]
//   conv1..convN  ConvBlock   conv1d (no bias) -> batch_norm -> relu [-> max_pool1d(2)]
//   pool          GlobalPool  [N, C, T] -> [N, 2C]  (mean and max over time)
//   fc1           Dense       dropout -> linear -> relu
//   out           Linear      linear -> logits [N, classes]
//
// The default sizes come from a sweep on MHEALTH (subjects 01-06 train,
// 07-08 validation): 4 conv blocks of 32/64/64/128 channels with kernels
// 7/5/5/3 reach ~88-90% there with rotation augmentation (see train.cpp);
// wider or deeper variants did not do better and train slower.
//
// The heavier reference model, DeepConvLSTM (build_deepconvlstm), is not a
// chain; see DeepConvLstmConfig.
//
// Internal header: includes torch.

#include <cstdint>
#include <string>
#include <vector>

#include <torch/script.h>

namespace hare::model {

struct ConvSpec {
  int channels = 0;
  int kernel = 0;
  bool pool = false;  // max_pool1d(2) after the activation
};

struct ReferenceConfig {
  int in_channels = 6;
  int window = 128;
  int num_classes = 12;
  std::vector<ConvSpec> convs = {{32, 7, true}, {64, 5, true}, {64, 5, true}, {128, 3, false}};
  int hidden = 64;
  double dropout = 0.3;
  // A bottleneck encoder in front (hare-train --bottleneck C,S): each S
  // samples of the window become C numbers, so that a gateway running only
  // the encoder sends in_channels*S/C times fewer bytes than the raw window.
  // Trained jointly with the classifier. 0 = none.
  int bottleneck_channels = 0;
  int bottleneck_stride = 0;
};

// DeepConvLSTM (Ordóñez & Roggen, Sensors 2016), adapted to hare's windows:
//
//   conv1..conv4  Conv     conv1d, 64 filters, kernel 5 along time, no padding
//   lstm          Lstm     2 layers of 128 units over the remaining 112 steps
//   out           Linear   the last step's hidden state -> logits [N, classes]
//
// with the ReLUs, the permute to [N, T, C], the dropouts and `[:, -1]` in the
// top-level forward, written as a researcher writes it; so it is not a layer
// chain (model::discover_chain refuses it) and is cut by graph-level segments.
//
// The paper convolves every sensor channel separately (a 5x1 Conv2d over a
// [T, C] image, 64 x C features per step into the LSTM). Here the first conv
// mixes the 6 channels, as most reimplementations do: the per-channel form
// costs 6x the convolution work, ~5 s per training batch of 64 on this
// 2-core machine against ~1 s, which left no room to train it. Dropout is
// the paper's: p = 0.5 on the inputs of both LSTM layers and the classifier.
struct DeepConvLstmConfig {
  int in_channels = 6;
  int window = 128;
  int num_classes = 12;
  int conv_layers = 4;
  int filters = 64;
  int kernel = 5;
  int lstm_layers = 2;
  int lstm_units = 128;
  double dropout = 0.5;
};

// Builds the model with freshly initialized weights, drawn from torch's
// global generator (seed it first).
torch::jit::Module build_reference_model(const ReferenceConfig& config);
torch::jit::Module build_deepconvlstm(const DeepConvLstmConfig& config);

// A short human-readable description, e.g. "hare-cnn: conv48k7, ...".
std::string describe(const ReferenceConfig& config);
std::string describe(const DeepConvLstmConfig& config);

int64_t count_parameters(const torch::jit::Module& module);

// Names of the module's top-level children, in registration order.
std::vector<std::string> child_names(const torch::jit::Module& module);

}  // namespace hare::model
