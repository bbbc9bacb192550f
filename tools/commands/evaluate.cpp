// `trainer evaluate`: the loss, the metrics and the confusion matrix of a checkpoint's
// weights on the config's test, validation or training set.

#include <cstdio>
#include <memory>
#include <optional>

#include "engine/core/error.hpp"
#include "engine/train/evaluation.hpp"
#include "engine/train/session.hpp"
#include "engine/train/training_data.hpp"
#include "tools/command_support.hpp"
#include "tools/commands/command.hpp"

namespace loom {

namespace {

struct EvaluateSettings {
  std::string weights;
  std::string data = "test";
};

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
  Session session(load(options, DataUse::inference));
  session.load_weights(command.weights);
  const std::optional<Dataset> chosen =
      load_data_set(session.experiment(), session.classes(), &session.class_names(), command.data);
  if (!chosen) {
    throw InputError("evaluate --data " + command.data + ": the config has no " + command.data +
                     " data");
  }
  MetricSet metrics(session.experiment().trainer.metrics,
                    metric_context(session.experiment(), session.classes()));
  const Evaluation evaluation = loom::evaluate(session, metrics, *chosen);
  std::printf("%s: %lld samples - loss: %.4f", command.data.c_str(),
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
  add_common_options(command, flags.options);
  command.add_option("--weights", flags.settings.weights, "a checkpoint")->required();
  command.add_option("--data", flags.settings.data, "test (default), validation or train")
      ->check(CLI::IsMember({"test", "validation", "train"}));
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
