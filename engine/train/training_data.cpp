#include "engine/train/training_data.hpp"

#include <cmath>

#include "engine/core/error.hpp"
#include "engine/core/random.hpp"

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

namespace {

constexpr uint64_t kSplitStream = 0x5b117;  // the split's own stream of the experiment seed

// The training set as the splits see it: in file order, or in a seeded shuffle
// (data.shuffle_before_split), the same for every command that reads it.
Dataset training_set(const Experiment& experiment, const DatasetRequest& request) {
  Dataset train = load_dataset(experiment.data.train, request);
  if (!experiment.data.shuffle_before_split) return train;
  std::vector<int64_t> order(size_t(train.size()));
  for (size_t i = 0; i < order.size(); ++i) order[i] = int64_t(i);
  Random random(derive_seed(experiment.seed, kSplitStream));
  for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[random.below(i)]);
  return train.subset(order);
}

}  // namespace

TrainingData load_training_data(const Experiment& experiment, int64_t units) {
  const DataSpec& data = experiment.data;
  TrainingData loaded;
  loaded.train.emplace(training_set(experiment, dataset_request(experiment, units, nullptr)));
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
  Dataset train = training_set(experiment, request);
  if (data.validation_split <= 0) return train;
  auto [kept, validation] = split_off_validation(train, data.validation_split);
  return which == "validation" ? std::move(validation) : std::move(kept);
}

}  // namespace loom
