// hare-train: train a reference HAR model (--arch cnn|deepconvlstm) on recordings, or evaluate a
// trained model on recordings it has never seen.
//
//   hare-train [options]                     train, write models/<name>.pt + .yaml
//   hare-train eval --model M.pt FILE...     print accuracy etc. as YAML on stdout
//   hare-train card --model M.pt --spec S --window W --step S ...
//                                            write the model card of a model hare did not train

#include <CLI/CLI.hpp>
#include <yaml-cpp/yaml.h>

#include <iostream>

#include "common/diag.h"
#include "common/strings.h"
#include "data/split.h"
#include "model/card_writer.h"
#include "model/train.h"
#include "tool_common.h"

using namespace hare;

namespace {

void print_training_report(const model::TrainResult& result) {
  const data::ModelCard& card = result.card;
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "model" << YAML::Value << result.model_path;
  out << YAML::Key << "card" << YAML::Value << result.card_path;
  out << YAML::Key << "arch" << YAML::Value << card.training.arch;
  out << YAML::Key << "model_bytes" << YAML::Value << card.model_bytes;
  out << YAML::Key << "parameters" << YAML::Value << card.parameters;
  out << YAML::Key << "best_epoch" << YAML::Value << card.training.best_epoch;
  out << YAML::Key << "epochs_run" << YAML::Value << card.training.epochs_run;
  out << YAML::Key << "training_time_s" << YAML::Value << fmt::format("{:.1f}", card.training.time_s);
  out << YAML::Key << "validation_subjects" << YAML::Value << YAML::Flow << card.validation_subjects;
  data::emit_report(out, card.validation);
  out << YAML::EndMap;
  std::cout << out.c_str() << "\n";
}

void print_eval_report(const model::EvalResult& result) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  if (!result.arch.empty()) out << YAML::Key << "arch" << YAML::Value << result.arch;
  data::emit_report(out, result.report);
  out << YAML::Key << "recordings" << YAML::Value << result.recordings;
  out << YAML::Key << "unlabelled_windows" << YAML::Value << result.unlabelled_windows;
  out << YAML::EndMap;
  std::cout << out.c_str() << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  tools::use_openmp_wait_policy(argv, "", "PASSIVE");
  return diag::run_main("hare-train", [&] {
    CLI::App app{"Train hare's reference HAR model (1D-CNN, or DeepConvLSTM with --arch) on sensor recordings "
                 "(subject-wise split, early stopping), evaluate a trained model with 'hare-train eval', or write the "
                 "card of a model hare did not train with 'hare-train card'."};
    model::TrainOptions train;
    std::string train_subjects = "1-6";
    std::string validation_subjects = "7,8";
    bool no_augment = false;
    bool quiet = false;
    app.add_option("--arch", train.arch,
                   "Model: cnn (hare-cnn, a layer chain) or deepconvlstm (DeepConvLSTM, Ordonez & Roggen 2016; "
                   "heavier, not a chain)")
        ->capture_default_str()
        ->check(CLI::IsMember(model::architectures()));
    app.add_option("--data", train.data, "Recording files or directories")->capture_default_str();
    app.add_option("--spec", train.spec, "Dataset spec: builtin name or YAML file (default: from file names)");
    tools::add_list(app, "--channels", train.channels, "Comma-separated channel names (default: the spec's)",
                    CLI::Validator([](std::string& name) { return name.empty() ? "a channel name is empty" : ""; }, "NAME"));
    app.add_flag("--keep-null", train.keep_null, "Keep the null class (label 0 in raw MHEALTH) as class 'null'");
    app.add_option("--train-subjects", train_subjects, "Training subjects, e.g. 1-6")->capture_default_str();
    app.add_option("--val-subjects", validation_subjects, "Validation subjects, e.g. 7,8")->capture_default_str();
    app.add_option("--window", train.window, "Window length: samples, or seconds like 2.56s")->capture_default_str();
    app.add_option("--step", train.step, "Window step for deployment and validation")->capture_default_str();
    app.add_option("--train-step", train.train_step, "Window step for training windows")->capture_default_str();
    app.add_option("--purity", train.purity, "Minimum share of a window's majority label")
        ->capture_default_str()->check(tools::number_in(0.01, 1.0));
    app.add_option("--epochs", train.max_epochs, "Maximum epochs")->capture_default_str()->check(tools::whole_number_in(1, std::numeric_limits<int>::max()));
    app.add_option("--patience", train.patience, "Stop after this many epochs without improvement")
        ->capture_default_str()->check(tools::whole_number_in(1, std::numeric_limits<int>::max()));
    app.add_option("--batch-size", train.batch_size, "Batch size")->capture_default_str()->check(tools::whole_number_in(1, std::numeric_limits<int>::max()));
    app.add_option("--lr", train.learning_rate, "Peak learning rate (AdamW, one-cycle schedule)")
        ->capture_default_str()
        ->check(tools::positive_number(10.0));
    app.add_option("--dropout", train.dropout,
                   "Dropout probability (default: the architecture's, cnn 0.3 before its dense layer, deepconvlstm 0.5 "
                   "into each LSTM layer and the classifier)")
        ->check(tools::number_in(0.0, 0.99));
    app.add_option("--lstm-layers", train.lstm_layers,
                   "deepconvlstm: stacked LSTM layers (default 2, the paper's; Bock et al. 2021 found 1 as good "
                   "or better on HAR datasets, at half the recurrent steps)")
        ->check(tools::whole_number_in(1, 8));
    app.add_option("--clip-grad-norm", train.grad_clip_norm,
                   "Clip the gradients' global L2 norm to this per step; 0 = no clipping (default: the "
                   "architecture's, cnn none, deepconvlstm 1)")
        ->check(tools::number_in(0.0, 1e6));
    app.add_option("--weight-decay", train.weight_decay, "AdamW's decoupled weight decay")
        ->capture_default_str()
        ->check(tools::number_in(0.0, 1.0));
    app.add_option("--label-smoothing", train.label_smoothing,
                   "Label smoothing of the cross-entropy loss (Szegedy et al. 2016): the target puts this "
                   "probability mass evenly over all classes")
        ->capture_default_str()
        ->check(tools::number_in(0.0, 0.5));
    app.add_flag("--no-augment", no_augment, "Disable training-time augmentation");
    app.add_option("--rotation-deg", train.rotation_deg, "Augmentation: sd of 3-axis sensor rotation angles")
        ->capture_default_str()
        ->check(tools::number_in(0.0, 180.0));
    std::vector<int> bottleneck;
    tools::add_list(app, "--bottleneck", bottleneck,
                   "An encoder in front that turns every S samples into C values, e.g. 8,8 (C,S): the gateway can send "
                   "the code instead of the raw window",
                    tools::whole_numbers(1, "8,8"));
    app.add_option("--seed", train.seed, "Random seed")->capture_default_str();
    app.add_option("--threads", train.threads, "Intra-op threads")->capture_default_str()->check(tools::whole_number_in(1, std::numeric_limits<int>::max()));
    app.add_option("--name", train.name, "Model name: writes <out>/<name>.pt and .yaml")
        ->capture_default_str()
        ->check(tools::valid_name("model name"));
    app.add_option("--out", train.out_dir, "Output directory")->capture_default_str();
    app.add_flag("-q,--quiet", quiet, "Only errors on stderr");

    model::EvalOptions eval;
    CLI::App* eval_cmd = app.add_subcommand("eval", "Evaluate a trained model on recordings (YAML on stdout)");
    eval_cmd->add_option("--model", eval.model_path, "TorchScript model (.pt) with its card next to it")->required();
    eval_cmd->add_option("--card", eval.card_path, "Model card (default: <model>.yaml)");
    eval_cmd->add_option("--spec", eval.spec, "Dataset spec for the files (default: from file names)");
    eval_cmd->add_option("--threads", eval.threads, "Intra-op threads")->capture_default_str()->check(tools::whole_number_in(1, std::numeric_limits<int>::max()));
    eval_cmd->add_option("files", eval.data, "Recording files or directories")->required();

    model::CardOptions card;
    std::string card_train_subjects;
    CLI::App* card_cmd = app.add_subcommand(
        "card", "Write the model card (<model>.yaml) of a TorchScript model hare did not train, checked against the model");
    card_cmd->add_option("--model", card.model_path, "TorchScript model (.pt), scripted or traced")->required();
    card_cmd->add_option("--spec", card.spec, "Dataset spec of its inputs: builtin name or YAML file")->required();
    tools::add_list(*card_cmd, "--channels", card.channels, "Comma-separated channel names (default: the spec's)",
                    CLI::Validator([](std::string& name) { return name.empty() ? "a channel name is empty" : ""; }, "NAME"));
    card_cmd->add_option("--window", card.window, "Window length the model takes: samples, or seconds like 2.56s")
        ->required();
    card_cmd->add_option("--step", card.step, "Window step when deployed: samples, or seconds")->required();
    card_cmd->add_option("--purity", card.purity, "Minimum share of a window's majority label (evaluation)")
        ->capture_default_str()->check(CLI::Range(0.01, 1.0));
    tools::add_list(*card_cmd, "--classes", card.classes,
                    "The model's classes in output order (default: the spec's labels)",
                    CLI::Validator([](std::string& name) { return name.empty() ? "a class name is empty" : ""; }, "NAME"));
    card_cmd->add_flag("--keep-null", card.keep_null, "The model has the spec's null class as class 'null', first");
    card_cmd->add_option("--fit-normalization", card.fit_normalization,
                         "Recordings the model was trained on: per-channel mean and std are fitted on them");
    card_cmd->add_option("--train-subjects", card_train_subjects,
                         "Only these subjects of --fit-normalization, e.g. 1-6");
    card_cmd->add_flag("--no-normalization", card.no_normalization, "The model takes raw values (mean 0, std 1)");
    card_cmd->add_option("--validation-data", card.validation_data,
                         "Held-out recordings; hare-partition checks its slices on them");
    card_cmd->add_option("--name", card.name, "Model name (default: the model file's name)")
        ->check(tools::valid_name("model name"));
    card_cmd->add_option("--out", card.out, "Card file (default: <model>.yaml next to the model)");
    card_cmd->add_flag("--force", card.force, "Replace an existing card");

    if (auto code = tools::parse(app, argc, argv)) return *code;
    diag::set_quiet(quiet);
    diag::install_interrupt_handler();

    if (*eval_cmd) {
      print_eval_report(model::evaluate_model(eval));
      return 0;
    }
    if (*card_cmd) {
      if (!card_train_subjects.empty()) card.train_subjects = data::parse_subjects(card_train_subjects, "--train-subjects");
      const model::CardResult written = model::write_card_for_model(card);
      diag::note("wrote {} ({} classes, input {})", written.card_path, written.card.classes.size(),
                 shape_text(written.card.input_shape));
      std::cout << written.card_path << "\n";
      return 0;
    }
    train.train_subjects = data::parse_subjects(train_subjects, "--train-subjects");
    train.validation_subjects = data::parse_subjects(validation_subjects, "--val-subjects");
    train.augment = !no_augment;
    if (!bottleneck.empty()) {
      if (bottleneck.size() != 2) {
        throw input_error(Location{}, "--bottleneck must be C,S: C values for every S samples, e.g. 8,8");
      }
      train.bottleneck_channels = bottleneck[0];
      train.bottleneck_stride = bottleneck[1];
    }
    print_training_report(model::train_reference_model(train));
    return 0;
  });
}
