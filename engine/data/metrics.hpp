#pragma once
// Metrics tracked over an epoch from the model's outputs and the targets, with Keras's names
// and definitions: accuracy (the arg-max is the label; thresholded for binary targets),
// binary_accuracy, top_k_accuracy (the label is among the k largest outputs; Keras's default k
// is 5), mse and mae (against the target values, or one-hot rows of class indices),
// precision, recall and auc (ROC, from thresholded counts as Keras computes it). Updated after
// every step without allocating. The metric registry (names, options' schemas, factories) is the
// one list the config checks names against and the trainer builds from.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/data/dataset_spec.hpp"
#include "engine/graph/option_schema.hpp"

namespace loom {

// One batch: the model's outputs [size, width] row-major, and the targets the plan was given
// (class indices, or float rows of `width` values: one-hot, k-hot, 0/1 or regression values).
struct PredictionBatch {
  const float* predictions;
  int64_t size;
  int64_t width;
  LabelEncoding encoding;
  const void* labels;   // int32 [size] for LabelEncoding::index, else float [size, width]
  bool logits = false;  // predictions are logits (the loss's from_logits)

  const float* row(int64_t r) const { return predictions + r * width; }
  // The class of row r: its index, or the arg-max of its target row.
  int64_t label(int64_t r) const;
  // Target value c of row r (1 or 0 for class indices).
  float target(int64_t r, int64_t c) const {
    if (encoding == LabelEncoding::index) return static_cast<const int32_t*>(labels)[r] == c;
    return static_cast<const float*>(labels)[r * width + c];
  }
  // Output c of row r as a probability (a sigmoid of it when the outputs are logits).
  float probability(int64_t r, int64_t c) const;
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

// What a metric needs to know of the model: Keras's "accuracy" is binary accuracy for a
// binary_crossentropy loss or a single output, and thresholds apply to probabilities.
struct MetricContext {
  bool binary = false;  // binary (or multi-label) targets: compare thresholded outputs
  bool logits = false;  // the outputs are logits (the loss's from_logits)
};

struct MetricDefinition {
  std::string name;
  OptionSchema options;
  std::function<std::unique_ptr<Metric>(const Attributes& options, const MetricContext& context)>
      create;
};

const std::vector<MetricDefinition>& metric_definitions();     // sorted by name
const MetricDefinition* find_metric(const std::string& name);  // null: unknown
std::vector<std::string> metric_names();
// What a monitor may name: loss and every metric, on the training, validation (val_) or test
// (test_) data.
const std::vector<std::string>& monitorable_metrics();

// The name a metric reports under: its own, or top_<k>_accuracy for top_k_accuracy.
std::string metric_display_name(const MetricSpec& spec);
// Keras's spelling "top_3_accuracy" as {top_k_accuracy: {k: 3}}; nullopt for other names.
std::optional<int64_t> top_k_of(const std::string& name);

std::vector<std::unique_ptr<Metric>> make_metrics(const std::vector<MetricSpec>& specs,
                                                  const MetricContext& context);

}  // namespace loom
