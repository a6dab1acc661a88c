#include "profile/profiler.h"

#include <sys/wait.h>
#include <unistd.h>

#include <torch/script.h>
#include <torch/version.h>
#include <ATen/Parallel.h>

#include <chrono>
#include <climits>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <sstream>
#include <thread>

#include "common/diag.h"
#include "common/error.h"
#include "common/json.h"
#include "common/memory.h"
#include "common/names.h"
#include "common/process.h"
#include "common/sha256.h"
#include "common/stats.h"
#include "common/strings.h"
#include "data/model_card.h"
#include "model/segments.h"
#include "model/torch_boundary.h"
#include "profile/memory_probe.h"

namespace hare::profile {
namespace {

using Clock = std::chrono::steady_clock;

double elapsed_ms(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

// Median cost of reading the clock twice, and the smallest step it shows.
void measure_timer(double* overhead_ns, double* resolution_ns) {
  std::vector<double> overhead;
  double resolution = 1e9;
  for (int i = 0; i < 20000; ++i) {
    const auto a = Clock::now();
    const auto b = Clock::now();
    const double d = std::chrono::duration<double, std::nano>(b - a).count();
    overhead.push_back(d);
    if (d > 0.0) resolution = std::min(resolution, d);
  }
  *overhead_ns = percentile(std::move(overhead), 0.5);
  *resolution_ns = resolution;
}

// The median cost of calling a TorchScript method that returns its input.
double measure_call_overhead_ms(const at::Tensor& input) {
  torch::jit::Module identity("__torch__.hare.Identity");
  identity.define("def forward(self, x):\n    return x\n");
  torch::jit::Method forward = identity.get_method("forward");
  const std::vector<c10::IValue> stack = {input};
  std::vector<double> samples;
  for (int i = 0; i < 3000; ++i) {
    const auto start = Clock::now();
    forward(stack);
    const auto end = Clock::now();
    if (i >= 500) samples.push_back(elapsed_ms(start, end));
  }
  return summarize(samples).median_ms;
}

// Which BLAS the process actually mapped (Debian switches libblas.so.3 by
// alternatives, so the real path tells OpenBLAS from the reference BLAS).
std::string blas_in_use() {
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    const size_t slash = line.find('/');
    if (slash == std::string::npos) continue;
    const std::string path = line.substr(slash);
    const std::string file = std::filesystem::path(path).filename().string();
    if (file.rfind("libblas", 0) == 0 || file.rfind("libopenblas", 0) == 0 || file.rfind("libmkl", 0) == 0) {
      std::error_code ec;
      const std::string real = std::filesystem::canonical(path, ec).string();
      std::string kind = "unknown";
      if (real.find("openblas-openmp") != std::string::npos) kind = "openblas-openmp";
      else if (real.find("openblas-pthread") != std::string::npos) kind = "openblas-pthread";
      else if (real.find("openblas") != std::string::npos) kind = "openblas";
      else if (real.find("mkl") != std::string::npos) kind = "mkl";
      else if (real.find("/blas/") != std::string::npos) kind = "reference (slow: install libopenblas0-openmp)";
      return kind + " (" + (ec ? path : real) + ")";
    }
  }
  return "none mapped";
}

int64_t tensor_bytes(const at::Tensor& t) { return t.numel() * static_cast<int64_t>(t.element_size()); }


// Runs a probe command (no shell in between) and reads its one-line record.
void require_probe(const std::vector<std::string>& argv, const char* what) {
  if (argv.empty() || !std::filesystem::exists(argv.front())) {
    throw failure("the {} memory probe needs {}, which is not there", what, argv.empty() ? "a command" : argv.front())
        .with_hint("install hare-profile, hare-node and hare-worker together (cmake --build puts them in one directory)");
  }
}

template <typename Record>
Record run_memory_probe(const std::vector<std::string>& argv, const char* what) {
  const ProcessResult run = run_process(argv);
  if (run.exit_code != 0) {
    throw failure("the {} memory probe ({}) failed ({}): {}", what, argv.front(),
                  run.term_signal ? fmt::format("signal {}", run.term_signal) : fmt::format("exit code {}", run.exit_code),
                  std::string(trim(run.out)));
  }
  return parse_record<Record>(std::string(trim(run.out)), fmt::format("the {} memory probe", what));
}

void measure_memory(const ProfileOptions& options, const std::vector<int64_t>& shape, Profile& profile) {
  if (options.rss_probe_command.empty()) return;
  std::vector<std::string> argv = options.rss_probe_command;
  argv.insert(argv.end(), {"--model", options.model_path, "--input-shape", fmt::format("{}", fmt::join(shape, ",")), "--threads",
                           std::to_string(profile.threads.front())});
  const auto executor = run_memory_probe<ExecutorMemoryProbe>(argv, "executor");
  if (executor.base.anon_bytes <= 0) throw failure("the executor memory probe measured no private memory");
  const auto supervisor = run_memory_probe<SupervisorMemoryProbe>(options.supervisor_probe_command, "supervisor");
  profile.memory = memory_profile_from(executor, supervisor);
}

// The model's card when it has one (--card, else beside the model): its
// name names the profile, and a model that does not answer the card's input
// with [1, classes] is refused before minutes of timing.
struct CardFound {
  std::string path;
  std::optional<data::ModelCard> card;
};

CardFound find_card(const ProfileOptions& options) {
  CardFound found{options.card_path, std::nullopt};
  if (found.path.empty()) {
    const std::string beside = data::card_path_for_model(options.model_path);
    if (std::filesystem::exists(beside)) found.path = beside;
  }
  if (found.path.empty()) return found;
  found.card = data::read_card_for_model(options.model_path, found.path);
  if (found.card->model_sha256 != sha256_file(options.model_path)) {
    throw input_error(Location{found.path}, "model_sha256 does not match {} (the card belongs to another model)",
                      options.model_path)
        .with_hint("give this model's card with --card, or write one with 'hare-train card'");
  }
  return found;
}

std::vector<int64_t> input_shape_for(const ProfileOptions& options, const CardFound& found, std::string* model_name) {
  *model_name = std::filesystem::path(options.model_path).stem().string();
  if (found.card) {
    *model_name = found.card->name;
    if (options.input_shape.empty()) return found.card->input_shape;
  }
  // Without a card the file's name names the model, and the profile's path.
  check_name(*model_name, "model name (the file's name)", Location{options.model_path});
  if (options.input_shape.empty()) {
    throw input_error(Location{options.model_path}, "no model card next to the model to tell its input shape")
        .with_hint("pass --input-shape, e.g. --input-shape 1,6,128 for one window of 6 channels x 128 samples");
  }
  return options.input_shape;
}

}  // namespace

Profile run_profile(const ProfileOptions& options, const ProgressFn& progress) {
  if (options.runs < 1 || options.warmup < 0) throw input_error(Location{}, "--runs must be >= 1 and --warmup >= 0");
  tune_allocator_for_inference();
  Profile profile;
  // Before minutes of timing: the memory probes' programs are there.
  if (!options.rss_probe_command.empty()) {
    require_probe(options.rss_probe_command, "executor");
    require_probe(options.supervisor_probe_command, "supervisor");
  }
  const CardFound card = find_card(options);
  const std::vector<int64_t> shape = input_shape_for(options, card, &profile.model_name);
  torch::jit::Module module = model::load_module(options.model_path);
  if (card.card && options.input_shape.empty()) {
    model::check_model_fits_card(module, options.model_path, card.card->input_shape, card.card->classes.size(),
                                 Location{card.path}, "the card names");
  }
  const auto layers = model::discover_segments(module, options.model_path, model::SegmentOptions{options.expand});

  profile.device = this_device();
  profile.device.id = options.device_id.empty() ? default_device_id(profile.device) : options.device_id;
  profile.device.libtorch = TORCH_VERSION;
  profile.model_file = std::filesystem::path(options.model_path).filename().string();
  profile.model_sha256 = sha256_file(options.model_path);
  profile.input_shape = shape;
  profile.runs = options.runs;
  profile.warmup = options.warmup;
  profile.threads = options.threads.empty() ? default_threads(profile.device.cores) : options.threads;
  // A plan pins every worker thread to a core of its own, so a count above
  // the cores is never planned with; it only times oversubscription (--threads
  // 9999 ran for minutes before anything was said).
  for (int threads : profile.threads) {
    if (threads > profile.device.cores) {
      throw input_error(Location{}, "--threads {} is more than this device's {} core(s)", threads, profile.device.cores)
          .with_hint(fmt::format("profile 1 to {} threads", profile.device.cores));
    }
  }
  profile.expand = options.expand;
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  profile.omp_wait_policy = policy ? policy : "default";
  measure_timer(&profile.timer_overhead_ns, &profile.timer_resolution_ns);

  c10::InferenceMode inference;
  torch::manual_seed(0);
  at::Tensor input;
  try {
    input = torch::randn(shape);
  } catch (const std::exception& error) {  // c10::Error: more memory than there is
    throw input_error(Location{options.model_path}, "cannot make an input of shape {} ({})", shape_text(shape),
                      model::short_torch_message(error))
        .with_hint("check the model card's input_shape or pass --input-shape");
  }
  profile.in_bytes = tensor_bytes(input);

  // Each layer's input is the previous layer's output.
  std::vector<torch::jit::Method> methods;
  std::vector<std::vector<c10::IValue>> stacks;
  at::Tensor x = input;
  at::set_num_threads(1);
  try {
    for (size_t i = 0; i < layers.size(); ++i) {
      methods.push_back(layers[i].module.get_method("forward"));
      stacks.push_back({x});
      const c10::IValue out = methods.back()(stacks.back());
      if (!out.isTensor()) {
        throw input_error(Location{options.model_path}, "segment '{}' returns a {}, not a tensor", layers[i].name,
                          out.tagKind())
            .with_hint("segments pass exactly one tensor from one to the next");
      }
      x = out.toTensor();
      if (x.scalar_type() != at::kFloat) {
        throw input_error(Location{options.model_path}, "segment '{}' outputs {}, only float32 is supported",
                          layers[i].name, c10::toString(x.scalar_type()));
      }
      LayerProfile layer;
      layer.index = static_cast<int>(i + 1);
      layer.name = layers[i].name;
      layer.type = layers[i].type;
      layer.output_shape = x.sizes().vec();
      layer.out_bytes = tensor_bytes(x);
      layer.param_bytes = layers[i].param_bytes;
      profile.layers.push_back(layer);
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& error) {  // c10::Error, or torch::jit::JITException from the interpreter
    const std::string cause = model::short_torch_message(error);
    if (cause.find("scalar type") != std::string::npos || cause.find("dtype") != std::string::npos) {
      throw input_error(Location{options.model_path}, "the model rejects a float32 input ({})", cause)
          .with_hint("hare feeds float32 windows: export the model after model.float()");
    }
    throw input_error(Location{options.model_path}, "the model rejects an input of shape {} ({})", shape_text(shape),
                      cause)
        .with_hint("check the model card's input_shape or pass --input-shape");
  }
  profile.call_overhead_ms = measure_call_overhead_ms(input);
  torch::jit::Method whole = module.get_method("forward");
  const std::vector<c10::IValue> whole_stack = {input};

  // Timings taken while other work runs are inflated: say so once.
  if (const double busy = other_busy_cores(); busy > 0.25) {
    diag::warning("other processes keep {:.1f} of {} cores busy: timings will be inflated; profile on an idle "
                  "machine",
                  busy, profile.device.cores);
  }
  const long long total = static_cast<long long>(profile.threads.size()) * (options.runs + options.warmup);
  long long done = 0;
  for (int threads : profile.threads) {
    at::set_num_threads(threads);
    std::vector<double> whole_samples;
    std::vector<std::vector<double>> layer_samples(layers.size());
    for (int round = 0; round < options.warmup + options.runs; ++round) {
      diag::throw_if_interrupted();
      const bool timed = round >= options.warmup;
      auto start = Clock::now();
      whole(whole_stack);
      auto end = Clock::now();
      if (timed) whole_samples.push_back(elapsed_ms(start, end));
      for (size_t i = 0; i < methods.size(); ++i) {
        start = Clock::now();
        methods[i](stacks[i]);
        end = Clock::now();
        if (timed) layer_samples[i].push_back(elapsed_ms(start, end));
      }
      if (progress) progress(++done, total);
    }
    profile.whole_model[threads] = summarize(whole_samples);
    for (size_t i = 0; i < layers.size(); ++i) {
      profile.layers[i].latency[threads] = summarize(layer_samples[i]);
    }
    // The same model on windows that come after a quiet gap, as at a
    // sensor's pace: caches, branch predictors and the CPU itself have gone
    // cold, and the window pays for it (wake_factor in the cost model).
    // One gap at a time, steadily, as windows at a constant rate come (a
    // short gap right after a long one is still cold): a few untimed
    // windows first.
    if (options.idle_runs > 0) {
      profile.idle.resize(options.idle_gaps_ms.size());
      for (size_t g = 0; g < options.idle_gaps_ms.size(); ++g) {
        std::vector<double> samples;
        for (int round = -5; round < options.idle_runs; ++round) {
          diag::throw_if_interrupted();
          std::this_thread::sleep_for(std::chrono::microseconds(static_cast<int64_t>(options.idle_gaps_ms[g] * 1000)));
          const auto start = Clock::now();
          whole(whole_stack);
          if (round >= 0) samples.push_back(elapsed_ms(start, Clock::now()));
        }
        profile.idle[g].gap_ms = options.idle_gaps_ms[g];
        profile.idle[g].whole_model[threads] = summarize(samples);
      }
    }
  }
  // A layer is below the timer's resolution when its median is within 20x of
  // what reading the clock itself costs: the number then says little.
  const double floor_ms = 20.0 * std::max(profile.timer_overhead_ns, profile.timer_resolution_ns) * 1e-6;
  for (auto& layer : profile.layers) {
    for (const auto& entry : layer.latency) layer.below_resolution = layer.below_resolution || entry.second.median_ms < floor_ms;
  }
  profile.device.blas = blas_in_use();
  measure_memory(options, shape, profile);
  return profile;
}

int rss_probe_main(const std::string& model_path, const std::vector<int64_t>& input_shape, int threads) {
  tune_allocator_for_inference();
  at::set_num_threads(threads);
  ExecutorMemoryProbe probe;
  {
    c10::InferenceMode inference;
    // What an idle executor has done: start torch's thread pool and allocator.
    (void)torch::ones({8}).sum().item<float>();
  }
  probe.base = own_process_memory();
  torch::jit::Module module = model::load_module(model_path);
  // A replica: the worker's warm-up (runtime/worker.cpp), then windows.
  const auto run_replica = [&] {
    c10::InferenceMode inference;
    at::set_num_threads(threads);
    const at::Tensor x = torch::randn(input_shape);
    for (int i = 0; i < 30; ++i) module.forward({x});
  };
  run_replica();
  probe.loaded = own_process_memory();
  // The second replica's thread stays alive while measured, as it would.
  std::promise<void> measured;
  std::promise<void> ran;
  std::thread second([&] {
    run_replica();
    ran.set_value();
    measured.get_future().wait();
  });
  ran.get_future().wait();
  probe.two_replicas = own_process_memory();
  measured.set_value();
  second.join();
  for (const MappingMemory& mapping : read_mappings(getpid())) {
    if (!mapping.name.empty() && mapping.name.front() == '/') probe.files.push_back(mapping.name);
  }
  std::printf("%s\n", record_line(probe).c_str());
  return 0;
}

}  // namespace hare::profile
