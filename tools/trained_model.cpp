#include "tools/trained_model.hpp"

#include <filesystem>

#include "engine/core/error.hpp"
#include "engine/exec/denormals.hpp"
#include "engine/plugin/load_plugin.hpp"
#include "engine/train/model_file.hpp"

namespace loom {

namespace fs = std::filesystem;

namespace {

// A run directory's checkpoint: --weights when given, else best, else last.
fs::path run_checkpoint(const fs::path& run, const std::string& weights) {
  if (!weights.empty()) return weights;
  std::error_code error;
  for (const char* name : {"best.safetensors", "last.safetensors"}) {
    if (fs::exists(run / name, error)) return run / name;
  }
  throw InputError(run.string() +
                   ": no best.safetensors or last.safetensors (is this a run "
                   "directory whose training wrote a checkpoint?)");
}

std::unique_ptr<Session> open_session(const CommandOptions& options, const std::string& weights) {
  const fs::path given = options.config;
  std::error_code error;
  if (fs::is_directory(given, error)) {
    CommandOptions run = options;
    run.config = (given / "config.yaml").string();
    // As a model file: the data the run names need not be here (a set evaluate reads must).
    auto session = std::make_unique<Session>(load(run, DataUse::model));
    session->load_weights(run_checkpoint(given, weights));
    return session;
  }
  if (fs::exists(given, error) && is_safetensors_file(given)) {
    if (!weights.empty()) {
      throw InputError("--weights " + weights + ": " + given.string() +
                       " is a model file, which holds its own weights");
    }
    for (const std::string& plugin : options.plugins) load_plugin(plugin);
    const SafetensorsFile model = SafetensorsFile::read(given);
    auto session = std::make_unique<Session>(model_experiment(model, options.overrides));
    session->load_weights(given);
    return session;
  }
  auto session = std::make_unique<Session>(load(options, DataUse::inference));
  // An ONNX model brings its weights; --weights may still give trained ones.
  if (weights.empty() && !session->experiment().model.onnx_file.empty()) return session;
  if (weights.empty()) {
    throw InputError(given.string() +
                     ": a config needs --weights CHECKPOINT (or give a run directory or a model "
                     "file)");
  }
  session->load_weights(weights);
  return session;
}

}  // namespace

// Evaluation and prediction run with the numerics training ran with.
std::unique_ptr<Session> open_trained_model(const CommandOptions& options,
                                            const std::string& weights) {
  std::unique_ptr<Session> session = open_session(options, weights);
  set_flush_denormals(session->experiment().trainer.flush_denormals);
  return session;
}

}  // namespace loom
