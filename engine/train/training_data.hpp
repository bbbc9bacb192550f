#pragma once
// The data sets an experiment names, read for what a command does: training reads the
// training set and the validation and test sets it evaluates after every epoch; evaluation
// reads only the set it evaluates.

#include <optional>
#include <string>
#include <vector>

#include "engine/config/experiment.hpp"
#include "engine/config/read_data.hpp"
#include "engine/data/dataset.hpp"

namespace loom {

struct TrainingData {
  std::optional<Dataset> train;
  std::optional<Dataset> validation;  // data.validation, or validation_split's part of train
  std::optional<Dataset> test;
};

// Every set (bad data files throw InputError); validation and test labels are mapped through
// the training set's class names.
TrainingData load_training_data(const Experiment& experiment, int64_t units);

// One set, "train", "validation" or "test", as training sees it (validation_split's parts
// come from the training set's file); nothing when the config has no such set. `classes`:
// the class names the model was trained with (from its checkpoint), or null.
std::optional<Dataset> load_data_set(const Experiment& experiment, int64_t units,
                                     const std::vector<std::string>* classes,
                                     const std::string& which);

// The last `fraction` of the samples (Keras's validation_split: taken before any shuffling),
// and the rest.
std::pair<Dataset, Dataset> split_off_validation(const Dataset& data, double fraction);

}  // namespace loom
