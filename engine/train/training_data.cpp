#include "engine/train/training_data.hpp"

#include <cmath>

#include "engine/core/error.hpp"

namespace loom {

std::pair<Dataset, Dataset> split_off_validation(const Dataset& data, double fraction) {
  const auto validation_size = int64_t(std::floor(double(data.size()) * fraction));
  const int64_t train_size = data.size() - validation_size;
  if (validation_size == 0 || train_size == 0) {
    throw InputError("data.validation_split: " + std::to_string(fraction) + " of " +
                     std::to_string(data.size()) + " samples leaves an empty part");
  }
  return {data.slice(0, train_size), data.slice(train_size, data.size())};
}

TrainingData load_training_data(const Experiment& experiment, int64_t units) {
  const DataSpec& data = experiment.data;
  TrainingData loaded;
  loaded.train.emplace(load_dataset(data.train, dataset_request(experiment, units, nullptr)));
  const DatasetRequest others = dataset_request(experiment, units, &loaded.train->class_names());
  if (data.validation) loaded.validation.emplace(load_dataset(*data.validation, others));
  if (data.validation_split > 0) {
    auto [train, validation] = split_off_validation(*loaded.train, data.validation_split);
    loaded.train.emplace(std::move(train));
    loaded.validation.emplace(std::move(validation));
  }
  if (data.test) loaded.test.emplace(load_dataset(*data.test, others));
  return loaded;
}

std::optional<Dataset> load_data_set(const Experiment& experiment, int64_t units,
                                     const std::vector<std::string>* classes,
                                     const std::string& which) {
  const DataSpec& data = experiment.data;
  const DatasetRequest request = dataset_request(experiment, units, classes);
  if (which == "test") {
    if (!data.test) return std::nullopt;
    return load_dataset(*data.test, request);
  }
  if (which == "validation" && data.validation) return load_dataset(*data.validation, request);
  if (which == "validation" && data.validation_split <= 0) return std::nullopt;
  Dataset train = load_dataset(data.train, request);
  if (data.validation_split <= 0) return train;
  auto [kept, validation] = split_off_validation(train, data.validation_split);
  return which == "validation" ? std::move(validation) : std::move(kept);
}

}  // namespace loom
