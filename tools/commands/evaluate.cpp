// `trainer evaluate`: the loss, the metrics and the confusion matrix of a trained model (a
// model file, a run directory, or a config with a checkpoint) on labelled samples of the
// user's (--input, with --targets for npy and idx) or on the config's test, validation or
// training set.

#include <cstdio>
#include <memory>
#include <optional>

#include "engine/config/read_data.hpp"
#include "engine/core/error.hpp"
#include "engine/train/evaluation.hpp"
#include "engine/train/session.hpp"
#include "engine/train/training_data.hpp"
#include "tools/command_support.hpp"
#include "tools/commands/command.hpp"
#include "tools/trained_model.hpp"

namespace loom {

namespace {

namespace fs = std::filesystem;

struct EvaluateSettings {
  std::string weights;
  std::string data = "test";
  std::string input;
  std::string targets;
};

// The labelled samples: --input's, else the config's set named by --data.
Dataset evaluated_set(Session& session, const EvaluateSettings& command) {
  const Experiment& experiment = session.experiment();
  if (command.input.empty()) {
    std::optional<Dataset> chosen =
        load_data_set(experiment, session.classes(), &session.class_names(), command.data);
    if (!chosen) {
      throw InputError("evaluate --data " + command.data + ": the config has no " + command.data +
                       " data (or give --input FILE)");
    }
    return std::move(*chosen);
  }
  const std::optional<DatasetSpec> spec =
      input_source(experiment.data, command.input, fs::path(command.targets));
  if (!spec) {
    throw InputError("--input " + command.input +
                     ": a CSV input needs a model trained on CSV data (its target columns)");
  }
  return load_dataset(*spec,
                      dataset_request(experiment, session.classes(), &session.class_names()));
}

std::string confusion_text(const Evaluation& evaluation, int64_t classes) {
  std::string text = "confusion matrix (rows: true class, columns: predicted class)\n      ";
  char cell[32];
  for (int64_t c = 0; c < classes; ++c) {
    std::snprintf(cell, sizeof cell, "%6lld", static_cast<long long>(c));
    text += cell;
  }
  text += "\n";
  for (int64_t t = 0; t < classes; ++t) {
    std::snprintf(cell, sizeof cell, "%6lld", static_cast<long long>(t));
    text += cell;
    for (int64_t p = 0; p < classes; ++p) {
      std::snprintf(cell, sizeof cell, "%6lld",
                    static_cast<long long>(evaluation.confusion[size_t(t * classes + p)]));
      text += cell;
    }
    text += "\n";
  }
  return text;
}

int evaluate(const CommandOptions& options, const EvaluateSettings& command, Communicator& world) {
  expect_single_process(world, "evaluate");
  apply_threads(options.threads);
  const std::unique_ptr<Session> opened = open_trained_model(options, command.weights);
  Session& session = *opened;
  const Dataset chosen = evaluated_set(session, command);
  const std::string label = command.input.empty() ? command.data : command.input;
  MetricSet metrics(session.experiment().trainer.metrics,
                    metric_context(session.experiment(), session.classes()));
  const Evaluation evaluation = loom::evaluate(session, metrics, chosen);
  std::printf("%s: %lld samples - loss: %.4f", label.c_str(),
              static_cast<long long>(evaluation.samples), evaluation.loss);
  for (size_t i = 0; i < evaluation.metrics.size(); ++i) {
    std::printf(" - %s: %.4f", metrics.names()[i].c_str(), evaluation.metrics[i]);
  }
  std::printf("\n");
  if (!evaluation.confusion.empty()) {
    std::printf("%s", confusion_text(evaluation, session.classes()).c_str());
  }
  return kSucceeded;
}

using EvaluateFlags = CommandFlags<EvaluateSettings>;

void add_evaluate_flags(CLI::App& command, EvaluateFlags& flags) {
  add_common_options(command, flags.options, true, kTrainedModelHelp);
  command.add_option("--weights", flags.settings.weights,
                     "a checkpoint (with a config; a run directory's default: best, else last)");
  CLI::Option* data =
      command.add_option("--data", flags.settings.data, "test (default), validation or train")
          ->check(CLI::IsMember({"test", "validation", "train"}));
  command
      .add_option("--input", flags.settings.input,
                  "labelled samples of your own: .npy or idx (with --targets), .npz, .csv, an "
                  "image folder with a subfolder per class")
      ->excludes(data);
  command.add_option("--targets", flags.settings.targets, "the targets of an .npy or idx --input")
      ->needs("--input");
}

}  // namespace

Command evaluate_command() {
  return make_command<EvaluateSettings>(
      "evaluate", "loss, metrics and confusion matrix of trained weights", add_evaluate_flags,
      [](const EvaluateFlags& flags, Communicator& world) {
        return evaluate(flags.options, flags.settings, world);
      });
}

}  // namespace loom
