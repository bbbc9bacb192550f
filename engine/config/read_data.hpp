#pragma once
// The `data:` section: the training, validation and test sets, each in one of the source
// formats of engine/data/dataset_spec.hpp, and how samples are scaled and augmented.

#include <filesystem>

#include "engine/config/config_node.hpp"
#include "engine/config/experiment.hpp"
#include "engine/data/dataset.hpp"

namespace loom {

DataSpec read_data(ConfigNode node, const std::filesystem::path& config_directory, DataUse use);

// How this experiment reads a set: its model input, its loss's targets against `units`
// outputs, data.scale, and the training set's class names (null or empty: none given).
DatasetRequest dataset_request(const Experiment& experiment, int64_t units,
                               const std::vector<std::string>* classes);

// Where `trainer predict --input` (and evaluate --input) reads its samples from: a .npy file, an
// .npz file (under the training set's features key), a CSV file read with the training set's CSV
// options, an image or a folder of images, else an idx file. nullopt: a CSV of pixel rows for a
// model trained on another format (engine/data/csv_samples.hpp). `targets` (evaluate --input): the
// set's targets too, from the file given (.npy, idx), the training set's targets key (.npz) or
// columns (CSV), or an image folder's class subfolders.
std::optional<DatasetSpec> input_source(
    const DataSpec& data, const std::filesystem::path& input,
    const std::optional<std::filesystem::path>& targets = std::nullopt);

// The section as the resolved config writes it: every option with its value.
YAML::Node data_yaml(const DataSpec& data);

}  // namespace loom
