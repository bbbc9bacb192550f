#include "engine/train/model_file.hpp"

#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "engine/core/error.hpp"
#include "engine/core/input_file.hpp"
#include "engine/train/checkpoint.hpp"
#include "engine/train/session.hpp"

namespace loom {

namespace fs = std::filesystem;

namespace {

constexpr const char* kCheckpointFormat = "loom-checkpoint-1";

std::string yaml_text(const YAML::Node& node) {
  YAML::Emitter emitter;
  emitter << node;
  return std::string(emitter.c_str()) + "\n";
}

}  // namespace

double trained_scale(const SafetensorsFile& checkpoint, const Experiment& experiment) {
  if (const std::optional<double> recorded = input_scale_from(checkpoint)) return *recorded;
  if (experiment.data.scale) return *experiment.data.scale;
  throw InputError(checkpoint.path().string() +
                   ": the checkpoint does not record the scale its training data was read with "
                   "(written by an older loom) and the config leaves it to the data; set "
                   "data.scale in the run's config.yaml");
}

bool is_safetensors_file(const fs::path& file) {
  const InputFile input(file, "file");
  unsigned char start[9] = {};
  if (input.size() < 9 || pread(input.descriptor(), start, sizeof start, 0) != 9) return false;
  uint64_t header = 0;
  for (int i = 7; i >= 0; --i) header = header << 8 | start[i];
  // Text (a YAML config) has bytes of 0x09 and above in every position, so its first 8 bytes
  // read as a length beyond 2^56; a safetensors header is far below 2^32 even when the file
  // is truncated (which SafetensorsFile::read then reports).
  return start[8] == '{' && header < (uint64_t{1} << 32);
}

Experiment export_model(const fs::path& run_directory, const fs::path& checkpoint,
                        const fs::path& output) {
  Experiment experiment = load_experiment(run_directory / "config.yaml", {}, DataUse::model);
  const SafetensorsFile weights = SafetensorsFile::read(checkpoint);
  if (weights.metadata().contains("format") && weights.metadata("format") == kModelFormat) {
    throw InputError(checkpoint.string() + ": already a model file, not a checkpoint");
  }
  Session session(experiment);
  session.load_weights(checkpoint);  // every parameter, its shape, finite

  YAML::Node config = YAML::Clone(experiment.resolved);
  config["data"]["scale"] = trained_scale(weights, experiment);
  std::vector<TensorBytes> tensors;
  for (const auto& [name, shape] : session.parameters().shapes()) {
    tensors.push_back({"weights/" + name, "F32", shape,
                       std::as_bytes(std::span<const float>(session.parameters().at(name)))});
  }
  write_safetensors(output, tensors,
                    {{"format", kModelFormat},
                     {"engine_version", LOOM_VERSION},
                     {"config", yaml_text(config)},
                     {"class_names", nlohmann::json(session.class_names()).dump()}});
  return experiment;
}

Experiment model_experiment(const SafetensorsFile& model,
                            const std::vector<std::string>& overrides) {
  const std::string name = model.path().string();
  const auto& metadata = model.metadata();
  const auto format = metadata.find("format");
  if (format == metadata.end() || format->second != kModelFormat) {
    const std::string found = format == metadata.end() ? "none" : "'" + format->second + "'";
    if (format != metadata.end() && format->second == kCheckpointFormat) {
      throw InputError(name +
                       ": a training checkpoint, not a model file: give its run directory, or "
                       "export it with `trainer export RUN_DIR --output FILE`");
    }
    const auto version = metadata.find("engine_version");
    throw InputError(
        name + ": not a model this loom reads (format " + found + ", written by " +
        (version == metadata.end() ? "an unknown program" : "loom " + version->second) +
        "); loom " + LOOM_VERSION + " reads " + kModelFormat);
  }
  const std::string label = name + ":config";
  return parse_experiment(model.metadata("config"), label, model.path().parent_path(),
                          DataUse::model, overrides);
}

}  // namespace loom
