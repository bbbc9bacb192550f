#pragma once
// Metrics tracked over an epoch from the model's predictions and the class labels, with
// Keras's names and definitions: accuracy (the arg-max is the label), top_k_accuracy (the
// label is among the k largest predictions; Keras's default k is 5) and mse (the mean squared
// difference from the one-hot labels). Updated after every step without allocating. The
// metric registry (names, options' schemas, factories) is the one list the config checks
// names against and the trainer builds from.

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/graph/option_schema.hpp"

namespace loom {

// One batch: predictions [size, classes] row-major, and each row's class label.
struct PredictionBatch {
  const float* predictions;
  int64_t size;
  int64_t classes;
  std::span<const uint32_t> indices;  // the samples, in the dataset
  std::span<const uint8_t> labels;    // the dataset's labels, indexed by `indices`

  int64_t label(int64_t row) const { return labels[indices[size_t(row)]]; }
  const float* row(int64_t r) const { return predictions + r * classes; }
};

class Metric {
 public:
  virtual ~Metric() = default;
  virtual const std::string& name() const = 0;
  virtual void reset() = 0;
  virtual void update(const PredictionBatch& batch) = 0;
  virtual double result() const = 0;
  // The running sums, for checkpoints taken in the middle of an epoch.
  virtual std::vector<double> state() const = 0;
  virtual void restore(std::span<const double> state) = 0;
  // What a restored state must be, when `state` (of state()'s size, finite) is not that;
  // empty when it is acceptable.
  virtual std::string state_problem(std::span<const double> /*state*/) const { return ""; }
};

// A metric as configured: its name and options (top_k_accuracy's k; absent ones take their
// defaults).
struct MetricSpec {
  std::string name;
  Attributes options;
};

struct MetricDefinition {
  std::string name;
  OptionSchema options;
  std::function<std::unique_ptr<Metric>(const Attributes& options)> create;
};

const std::vector<MetricDefinition>& metric_definitions();     // sorted by name
const MetricDefinition* find_metric(const std::string& name);  // null: unknown
std::vector<std::string> metric_names();
// What a monitor may name: loss and every metric, on the training, validation (val_) or test
// (test_) data.
const std::vector<std::string>& monitorable_metrics();

std::vector<std::unique_ptr<Metric>> make_metrics(const std::vector<MetricSpec>& specs);

}  // namespace loom
