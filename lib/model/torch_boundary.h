#pragma once

// The one place where LibTorch errors become hare errors. c10::Error
// messages are long C++ backtraces; users get one line that says what to do.
// Internal header: includes torch.

#include <string>
#include <vector>

#include <torch/script.h>

#include "common/error.h"

namespace hare::model {

// Loads a TorchScript module for inference on the CPU (eval mode). Throws an
// input Error naming the file for a missing, truncated or non-TorchScript
// file, one that calls an operator this LibTorch lacks (naming it), one
// whose parameters or buffers are not float32 (naming the dtype and the
// tensor), and one whose graph runs dropout or batch norm with training
// fixed to true (a model traced in training mode: eval() cannot undo that).
// A model saved in training mode whose graph reads `self.training` (a
// scripted one) is switched to eval mode with a warning naming the file.
torch::jit::Module load_module(const std::string& path);

// Loads a module whose bytes must have this SHA-256 (a plan's slice, checked
// against the manifest): the file is read once, the bytes hashed and the
// module loaded from those same bytes, so that a file swapped between the
// check and the load is never run. A mismatch is an input Error naming the
// file and both hashes.
torch::jit::Module load_verified_module(const std::string& path, const std::string& sha256);

// Saves atomically (temporary file, then rename); a full disk or any write
// error is a failure naming the file, and leaves nothing behind.
void save_module(torch::jit::Module& module, const std::string& path);

// Runs one zero window of `input_shape` through the model and checks that it
// returns one float32 score per class, [1, classes]. Anything else is an
// input Error naming the model, the output it gave and what the card says.
// `where` is the card, or the model when the card is being written;
// `classes_from` says who names the classes ("the card names").
void check_model_fits_card(torch::jit::Module& module, const std::string& model_path,
                           const std::vector<int64_t>& input_shape, size_t classes, const Location& where,
                           const std::string& classes_from);

// The first non-empty line of a LibTorch error's message (c10::Error,
// torch::jit::ErrorReport, JITException), without the backtrace.
std::string short_torch_message(const std::exception& error);

}  // namespace hare::model
