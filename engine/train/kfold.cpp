#include "engine/train/kfold.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/core/error.hpp"

namespace loom {

std::pair<Dataset, Dataset> kfold_split(const Dataset& data, int64_t folds, int64_t fold) {
  const int64_t n = data.size();
  if (folds < 2 || folds > n) {
    throw InputError("--folds " + std::to_string(folds) + ": expected 2 to the " +
                     std::to_string(n) + " training samples");
  }
  const int64_t begin = fold * n / folds, end = (fold + 1) * n / folds;
  std::vector<int64_t> rest;
  rest.reserve(size_t(n - (end - begin)));
  for (int64_t i = 0; i < n; ++i) {
    if (i < begin || i >= end) rest.push_back(i);
  }
  return {data.subset(rest), data.slice(begin, end)};
}

namespace {

void add_scaled(std::vector<double>& total, const std::vector<double>& values, double weight) {
  total.resize(values.size(), 0.0);
  for (size_t i = 0; i < values.size(); ++i) total[i] += values[i] * weight;
}

}  // namespace

std::vector<EpochRecord> mean_history(const std::vector<std::vector<EpochRecord>>& folds) {
  size_t epochs = folds.empty() ? 0 : folds.front().size();
  for (const auto& history : folds) epochs = std::min(epochs, history.size());
  const double weight = 1.0 / double(folds.size());
  std::vector<EpochRecord> mean(epochs);
  for (size_t e = 0; e < epochs; ++e) {
    EpochRecord& m = mean[e];
    m.epoch = int64_t(e) + 1;
    for (const auto& history : folds) {
      const EpochRecord& r = history[e];
      m.loss += r.loss * weight;
      add_scaled(m.metrics, r.metrics, weight);
      m.has_validation = r.has_validation;
      m.val_loss += r.val_loss * weight;
      add_scaled(m.val_metrics, r.val_metrics, weight);
      m.has_test = r.has_test;
      m.test_loss += r.test_loss * weight;
      add_scaled(m.test_metrics, r.test_metrics, weight);
      m.learning_rate += r.learning_rate * weight;
      m.seconds += r.seconds * weight;
      m.samples_per_second += r.samples_per_second * weight;
    }
  }
  return mean;
}

Baseline mean_predictor_baseline(const Dataset& train, const Dataset& validation) {
  const int64_t width = train.format().width;
  if (!train.has_targets() || !validation.has_targets() ||
      train.format().encoding != LabelEncoding::dense) {
    return {};
  }
  std::vector<double> mean(size_t(width), 0.0);
  for (int64_t s = 0; s < train.size(); ++s) {
    for (int64_t c = 0; c < width; ++c) mean[size_t(c)] += train.target_value(s, c);
  }
  for (double& value : mean) value /= double(train.size());
  Baseline baseline;
  for (int64_t s = 0; s < validation.size(); ++s) {
    for (int64_t c = 0; c < width; ++c) {
      const double error = validation.target_value(s, c) - mean[size_t(c)];
      baseline.mae += std::abs(error);
      baseline.mse += error * error;
    }
  }
  const double count = double(validation.size() * width);
  baseline.mae /= count;
  baseline.mse /= count;
  return baseline;
}

}  // namespace loom
