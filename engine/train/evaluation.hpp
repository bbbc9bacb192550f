#pragma once
// Evaluating a model on a data set: the loss and the metrics over every sample (a last
// partial batch counts each of its samples, as Keras does), and the confusion matrix. Under
// data parallelism every rank evaluates its shard and the sums are combined, so every rank
// gets the same figures.

#include <cstdint>
#include <vector>

#include "engine/data/dataset.hpp"
#include "engine/dist/communicator.hpp"
#include "engine/train/metric_set.hpp"
#include "engine/train/session.hpp"

namespace loom {

struct Evaluation {
  double loss = 0;
  std::vector<double> metrics;  // in the order of the config's trainer.metrics
  int64_t samples = 0;
  std::vector<int64_t> confusion;  // [true class][predicted class], row-major; empty if none
};

// Whether evaluations count a confusion matrix: for a loss over classes (one per sample).
bool has_confusion_matrix(const Experiment& experiment, int64_t units);

// `metrics` are reset first; collective when `communicator` has more than one rank.
Evaluation evaluate(Session& session, MetricSet& metrics, const Dataset& dataset,
                    Communicator& communicator = single_process());

}  // namespace loom
