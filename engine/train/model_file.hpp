#pragma once
// A model file (format "loom-model-1", written by `trainer export`): one safetensors file that
// holds everything inference needs and nothing of training's state. Its tensors are the
// weights ("weights/<name>", as in checkpoints, so Session::load_weights reads either); its
// metadata holds:
//   format          "loom-model-1"
//   engine_version  the loom that wrote it
//   config          the run's resolved config (YAML): the inference graph in its explicit
//                   form, the input's shape, the loss and metrics evaluate reports, and the data
//                   section with `scale` set to what the training set was multiplied by (the
//                   data files it names need not exist where the model is used)
//   class_names     the training set's class names (JSON list; empty when numbered only)
// A normalization layer's statistics are weights, so the preprocessing travels whole.

#include <filesystem>

#include "engine/config/experiment.hpp"
#include "engine/train/safetensors.hpp"

namespace loom {

inline constexpr const char* kModelFormat = "loom-model-1";

// Whether `file` is a safetensors file (a model or a checkpoint, whole or truncated) rather
// than a config: its first 8 bytes are a little-endian header length below 2^32, then '{'.
bool is_safetensors_file(const std::filesystem::path& file);

// Writes a model file from a run directory's config.yaml and one of its checkpoints; the
// weights are checked (every parameter, its shape, finite) before anything is written, and the
// file is replaced atomically. Returns the experiment it holds.
Experiment export_model(const std::filesystem::path& run_directory,
                        const std::filesystem::path& checkpoint,
                        const std::filesystem::path& output);

// The scale inference must multiply raw inputs by: the one the training set was read with
// (recorded in the checkpoint; a config's data.scale for checkpoints that predate that).
double trained_scale(const SafetensorsFile& checkpoint, const Experiment& experiment);

// The experiment a model file holds (its weights: Session::load_weights on the same file).
// A file of another format is refused naming it and the engine version that wrote it.
// `overrides` as --set gives them (inference settings such as trainer.batch_size).
Experiment model_experiment(const SafetensorsFile& model,
                            const std::vector<std::string>& overrides = {});

}  // namespace loom
