// `trainer summary CONFIG|MODEL|RUN_DIR`: Keras's model.summary() (engine/train/model_summary.hpp).
// A config needs no data and no weights: the summary is of the model it describes.

#include <cstdio>
#include <filesystem>

#include "engine/train/model_file.hpp"
#include "engine/train/model_summary.hpp"
#include "tools/command_support.hpp"
#include "tools/commands/command.hpp"
#include "tools/trained_model.hpp"

namespace loom {

namespace {

namespace fs = std::filesystem;

struct SummarySettings {};

std::unique_ptr<Session> open_model(const CommandOptions& options) {
  std::error_code error;
  const fs::path given = options.config;
  if (fs::is_directory(given, error) || (fs::exists(given, error) && is_safetensors_file(given))) {
    return open_trained_model(options, "");
  }
  return std::make_unique<Session>(load(options, DataUse::model));
}

int summary(const CommandOptions& options, Communicator& world) {
  expect_single_process(world, "summary");
  const std::unique_ptr<Session> session = open_model(options);
  std::printf("%s", summary_text(summarize(*session)).c_str());
  return kSucceeded;
}

using SummaryFlags = CommandFlags<SummarySettings>;

void add_summary_flags(CLI::App& command, SummaryFlags& flags) {
  add_common_options(command, flags.options, true,
                     "a config, a model file (trainer export) or a run directory");
}

}  // namespace

Command summary_command() {
  return make_command<SummarySettings>(
      "summary", "each layer's output shape and parameters, and the memory it needs",
      add_summary_flags,
      [](const SummaryFlags& flags, Communicator& world) { return summary(flags.options, world); });
}

}  // namespace loom
