#pragma once
// Metrics of thresholded outputs against 0/1 targets, counted over every output (a multi-label
// model's outputs each count, as in Keras): precision TP / (TP + FP), recall TP / (TP + FN),
// and the area under the ROC curve from counts at num_thresholds thresholds (Keras's AUC:
// thresholds i/(n-1), the ends nudged to -ε and 1+ε, the trapezoidal rule between points).

#include <cstdint>
#include <memory>

#include "engine/data/metrics.hpp"

namespace loom {

std::unique_ptr<Metric> make_precision(double threshold);
std::unique_ptr<Metric> make_recall(double threshold);
std::unique_ptr<Metric> make_roc_auc(int64_t num_thresholds);

}  // namespace loom
