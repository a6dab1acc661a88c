#include "model/torch_boundary.h"

#include <filesystem>
#include <sstream>

#include <fmt/format.h>
#include <torch/version.h>

#include "common/diag.h"
#include "common/error.h"
#include "common/fs.h"
#include "common/sha256.h"
#include "common/strings.h"

namespace hare::model {

std::string short_torch_message(const std::exception& error) {
  std::string message = error.what();
  // Script compilation errors (torch::jit::ErrorReport, e.g. an unknown
  // operator) start with an empty line.
  const size_t text = message.find_first_not_of(" \n");
  message.erase(0, text == std::string::npos ? message.size() : text);
  // Interpreter errors put the useful line last: "The following operation
  // failed ... RuntimeError: <what>".
  const std::string marker_runtime = "RuntimeError: ";
  const size_t runtime = message.rfind(marker_runtime);
  if (runtime != std::string::npos) message = message.substr(runtime + marker_runtime.size());
  const size_t newline = message.find('\n');
  if (newline != std::string::npos) message.resize(newline);
  const std::string marker = "Exception raised from";
  const size_t at = message.find(marker);
  if (at != std::string::npos) message.resize(at);
  while (!message.empty() && (message.back() == ' ' || message.back() == '.')) message.pop_back();
  return message;
}

namespace {

void require_exists(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    throw input_error(Location{path}, "model file not found")
        .with_hint("train one with hare-train, or export yours with torch.jit.script(model).save(path)");
  }
}

// hare's windows, activations and codecs are float32. Converting a float64
// model here would change its numbers behind the user's back (and hare's
// equivalence check compares slices with the converted model, not with what
// was exported), so it is refused; model.float() before export is one line.
template <typename NamedTensors>
void require_float32(const NamedTensors& tensors, const char* kind, const std::string& path) {
  for (const auto& tensor : tensors) {
    const at::ScalarType type = tensor.value.scalar_type();
    if (at::isFloatingType(type) && type != at::kFloat) {
      throw input_error(Location{path}, "the model's {} are {} ('{}'), and hare runs float32 models", kind,
                        c10::toString(type), tensor.name)
          .with_hint("export the model after model.float()");
    }
  }
}

// The first node, in any method of any submodule, that runs in training mode
// whatever the module's flag says: an operator whose `train`/`training`
// argument is the constant true. torch.jit.trace records a model in training
// mode this way (dropout active, batch norm on batch statistics); a scripted
// model reads self.training instead, which eval() sets.
const torch::jit::Node* find_fixed_training_node(const torch::jit::Block* block) {
  for (const torch::jit::Node* node : block->nodes()) {
    for (const torch::jit::Block* inner : node->blocks()) {
      if (const torch::jit::Node* found = find_fixed_training_node(inner)) return found;
    }
    const c10::FunctionSchema* schema = node->maybeSchema();
    if (schema == nullptr) continue;
    for (const char* name : {"train", "training"}) {
      const auto index = schema->argumentIndexWithName(name);
      if (!index || static_cast<size_t>(*index) >= node->inputs().size()) continue;
      const auto value = torch::jit::toIValue(node->input(static_cast<size_t>(*index)));
      if (value && value->isBool() && value->toBool()) return node;
    }
  }
  return nullptr;
}

// Whether any method reads a module's `training` flag (dropout, batch norm):
// only then does the mode a model was saved in change what it computes.
bool reads_training_flag(const torch::jit::Block* block) {
  for (const torch::jit::Node* node : block->nodes()) {
    for (const torch::jit::Block* inner : node->blocks()) {
      if (reads_training_flag(inner)) return true;
    }
    if (node->kind() == c10::prim::GetAttr && node->s(c10::attr::name) == "training") return true;
  }
  return false;
}

// Only a model saved in training mode is looked at: one saved in eval mode
// runs as saved. Each method's own graph, not inlined: library code such as
// F.multi_head_attention_forward calls dropout with training left true and
// p set to 0 in eval mode, which would look fixed once inlined.
void require_inference_mode(torch::jit::Module& module, const std::string& path) {
  bool saved_training = false;
  for (const torch::jit::Module& part : module.modules()) {
    if (!part.is_training()) continue;
    for (const torch::jit::Method& method : part.get_methods()) {
      const torch::jit::Block* body = method.graph()->block();
      if (const torch::jit::Node* node = find_fixed_training_node(body)) {
        throw input_error(Location{path},
                          "the model was traced in training mode: its graph runs {} with training fixed to true, "
                          "which eval() cannot undo",
                          node->kind().toQualString())
            .with_hint("call model.eval() before torch.jit.trace(model, example) and export it again");
      }
      saved_training = saved_training || reads_training_flag(body);
    }
  }
  if (saved_training) {
    diag::warning("{}: the model was saved in training mode; hare runs it in eval mode (dropout off, batch norm "
                  "on its running statistics): export it after model.eval() to silence this",
                  path);
  }
  module.eval();
}

// torch::jit::load from a path or from a stream of the file's bytes, with
// torch's errors turned into hare's (`path` names the file in them).
template <typename Source>
torch::jit::Module load_from(Source&& source, const std::string& path) {
  torch::jit::Module module;
  try {
    module = torch::jit::load(source, torch::kCPU);
  } catch (const c10::Error& error) {
    throw input_error(Location{path}, "not a loadable TorchScript model ({})", short_torch_message(error))
        .with_hint("export with torch.jit.script(model).save(path) (or torch.jit.trace); "
                   "a state_dict or a pickled nn.Module cannot be loaded from C++");
  } catch (const std::exception& error) {
    const std::string cause = short_torch_message(error);
    if (cause.find("Unknown builtin op") != std::string::npos || cause.find("Unknown type name") != std::string::npos) {
      throw input_error(Location{path}, "not a loadable TorchScript model ({})", cause)
          .with_hint(fmt::format("the model calls an operator that this LibTorch ({}) does not have: a custom op, or "
                                 "one from a newer PyTorch; export it with standard operators, or with PyTorch {}",
                                 TORCH_VERSION, TORCH_VERSION));
    }
    throw input_error(Location{path}, "not a loadable TorchScript model ({})", cause)
        .with_hint("the file may be truncated; export it again with torch.jit.script(model).save(path)");
  }
  require_float32(module.named_parameters(/*recurse=*/true), "parameters", path);
  require_float32(module.named_buffers(/*recurse=*/true), "buffers", path);
  require_inference_mode(module, path);
  return module;
}

}  // namespace

torch::jit::Module load_module(const std::string& path) {
  require_exists(path);
  return load_from(path, path);
}

torch::jit::Module load_verified_module(const std::string& path, const std::string& sha256) {
  require_exists(path);
  const std::string bytes = read_file(path);
  const std::string actual = sha256_hex(bytes);
  if (actual != sha256) {
    throw input_error(Location{path}, "SHA-256 {} is not the plan manifest's {}; refusing to load it", actual.substr(0, 16),
                      sha256.substr(0, 16))
        .with_hint("the file changed after the plan was verified; push the plan again (hare-deploy push, or "
                   "hare-partition --out)");
  }
  std::istringstream stream(bytes);
  return load_from(stream, path);
}

void check_model_fits_card(torch::jit::Module& module, const std::string& model_path,
                           const std::vector<int64_t>& input_shape, size_t classes, const Location& where,
                           const std::string& classes_from) {
  const std::vector<int64_t> scores = {1, static_cast<int64_t>(classes)};
  c10::IValue out;
  try {
    torch::NoGradGuard no_grad;
    out = module.forward({torch::zeros(input_shape)});
  } catch (const std::exception& error) {  // c10::Error, or JITException from the interpreter
    throw input_error(where, "the model rejects the card's input_shape {} ({})", shape_text(input_shape),
                      short_torch_message(error))
        .with_hint(fmt::format("input_shape is [1, channels, window samples]: the card must give the channels and "
                               "window that {} was trained on",
                               model_path));
  }
  const std::string subject = where.file == model_path ? "the model" : model_path;
  if (!out.isTensor()) {
    throw input_error(where, "{} outputs a {} for one window {}, not a tensor of {} float32 scores ({} names them)",
                      subject, out.tagKind(), shape_text(input_shape), classes, classes_from)
        .with_hint("hare runs models that return one tensor of class scores");
  }
  const at::Tensor& scores_out = out.toTensor();
  const std::vector<int64_t> got = scores_out.sizes().vec();
  if (got != scores) {
    Error error = input_error(where, "{} outputs {} for one window {}, but {} {} classes (expected {})", subject,
                              shape_text(got), shape_text(input_shape), classes_from, classes, shape_text(scores));
    if (got.size() == 2 && got[0] == 1) {
      error.with_hint(fmt::format("the card must name the model's {} classes in its output order "
                                  "(hare-train card --classes)",
                                  got[1]));
    }
    throw error;
  }
  if (scores_out.scalar_type() != at::kFloat) {
    throw input_error(where, "{} outputs {} scores, and hare runs float32 models", subject,
                      c10::toString(scores_out.scalar_type()))
        .with_hint("return float32 scores (e.g. .float() on the output, or the model after model.float()) and "
                   "export it again");
  }
}

void save_module(torch::jit::Module& module, const std::string& path) {
  // Serialized in memory, written by hare: LibTorch's file writer reports a
  // full disk by throwing from its destructor, which aborts the process.
  std::ostringstream bytes;
  try {
    module.save(bytes);
  } catch (const std::exception& error) {
    throw failure("{}: cannot save the model ({})", path, short_torch_message(error));
  }
  write_file_atomic(path, std::move(bytes).str());
}

}  // namespace hare::model
