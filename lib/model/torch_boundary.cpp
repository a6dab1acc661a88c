#include "model/torch_boundary.h"

#include <filesystem>
#include <sstream>

#include <fmt/format.h>
#include <torch/version.h>

#include "common/error.h"
#include "common/fs.h"
#include "common/sha256.h"

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

// torch::jit::load from a path or from a stream of the file's bytes, with
// torch's errors turned into hare's (`path` names the file in them).
template <typename Source>
torch::jit::Module load_from(Source&& source, const std::string& path) {
  torch::jit::Module module;
  try {
    module = torch::jit::load(source, torch::kCPU);
    module.eval();
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
  // hare's windows, activations and codecs are float32.
  for (const auto& parameter : module.named_parameters(/*recurse=*/true)) {
    const at::ScalarType type = parameter.value.scalar_type();
    if (at::isFloatingType(type) && type != at::kFloat) {
      throw input_error(Location{path}, "the model's parameters are {} ('{}'), and hare runs float32 models",
                        c10::toString(type), parameter.name)
          .with_hint("export the model after model.float()");
    }
  }
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
