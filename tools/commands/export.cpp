// `trainer export RUN_DIR --output model.loom`: one self-contained model file from a run's
// config and one of its checkpoints (engine/train/model_file.hpp), for evaluate, predict,
// summary and the C++ inference API; `--format onnx` (or an output named *.onnx) writes the
// inference graph as an ONNX model for other runtimes (engine/train/onnx_export.hpp).

#include <spdlog/spdlog.h>

#include <filesystem>

#include "engine/core/error.hpp"
#include "engine/onnx/onnx_import.hpp"
#include "engine/plugin/load_plugin.hpp"
#include "engine/train/model_file.hpp"
#include "engine/train/onnx_export.hpp"
#include "tools/command_support.hpp"
#include "tools/commands/command.hpp"

namespace loom {

namespace {

namespace fs = std::filesystem;

struct ExportSettings {
  std::string run;
  std::string checkpoint = "last";
  std::string output;
  std::string format = "auto";  // loom or onnx; auto: onnx for an output named *.onnx
};

bool is_onnx_format(const ExportSettings& command) {
  if (command.format != "auto") return command.format == "onnx";
  return fs::path(command.output).extension() == ".onnx";
}

// --output goes into an existing directory and may replace an earlier model file, never
// anything else (a checkpoint, a config).
void expect_replaceable(const fs::path& output, bool onnx) {
  std::error_code error;
  const fs::path directory = output.has_parent_path() ? output.parent_path() : fs::path(".");
  if (!fs::is_directory(directory, error)) {
    throw InputError("--output " + output.string() + ": the directory " + directory.string() +
                     " does not exist");
  }
  if (fs::is_directory(output, error)) {
    throw InputError("--output " + output.string() + ": a directory; give the model file's name");
  }
  if (!fs::exists(output, error)) return;
  if (onnx) {
    if (!is_exported_onnx(output)) {
      throw InputError("--output " + output.string() +
                       ": exists and is not an ONNX model loom exported; export replaces only "
                       "such a file");
    }
    return;
  }
  const bool model = is_safetensors_file(output) && [&] {
    const SafetensorsFile file = SafetensorsFile::read(output);
    return file.metadata().contains("format") && file.metadata("format") == kModelFormat;
  }();
  if (!model) {
    throw InputError("--output " + output.string() +
                     ": exists and is not a model file; export replaces only a model file");
  }
}

int export_model_file(const CommandOptions& options, const ExportSettings& command,
                      Communicator& world) {
  expect_single_process(world, "export");
  for (const std::string& plugin : options.plugins) load_plugin(plugin);
  const fs::path run = command.run;
  std::error_code error;
  if (!fs::is_directory(run, error) || !fs::exists(run / "config.yaml", error)) {
    throw InputError(command.run +
                     ": not a run directory (no config.yaml; trainer export takes the directory a "
                     "training run wrote)");
  }
  const fs::path checkpoint = run / (command.checkpoint + ".safetensors");
  if (!fs::exists(checkpoint, error)) {
    throw InputError("--checkpoint " + command.checkpoint + ": " + checkpoint.string() +
                     " not found" +
                     (command.checkpoint == "best" ? " (the run kept no best checkpoint)" : ""));
  }
  const bool onnx = is_onnx_format(command);
  expect_replaceable(command.output, onnx);
  const Experiment experiment = onnx ? export_onnx_model(run, checkpoint, command.output)
                                     : export_model(run, checkpoint, command.output);
  spdlog::info("exported '{}' ({} checkpoint) to {}", experiment.name, command.checkpoint,
               command.output);
  return kSucceeded;
}

using ExportFlags = CommandFlags<ExportSettings>;

void add_export_flags(CLI::App& command, ExportFlags& flags) {
  command.add_option("run", flags.settings.run, "the run directory")->required();
  command.add_option("--checkpoint", flags.settings.checkpoint, "last (default) or best")
      ->check(CLI::IsMember({"last", "best"}));
  command.add_option("--output", flags.settings.output, "the model file to write")->required();
  command
      .add_option("--format", flags.settings.format,
                  "loom (a model file) or onnx; default: onnx for an output named *.onnx")
      ->check(CLI::IsMember({"auto", "loom", "onnx"}));
  command.add_option("--plugin", flags.options.plugins,
                     "load the ops the model uses from this shared library (repeatable)");
}

}  // namespace

Command export_command() {
  return make_command<ExportSettings>(
      "export", "write a run's model as one self-contained file", add_export_flags,
      [](const ExportFlags& flags, Communicator& world) {
        return export_model_file(flags.options, flags.settings, world);
      });
}

}  // namespace loom
