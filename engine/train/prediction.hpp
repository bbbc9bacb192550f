#pragma once
// How a model's outputs read, for `trainer predict` and the C++ API alike: a softmax
// classifier's class probabilities, a single sigmoid unit's probability (a binary loss with
// from_logits has its logits turned into probabilities), or plain values (regression, k-hot).

#include <cstdint>

#include "engine/config/experiment.hpp"

namespace loom {

enum class OutputKind { classes, probability, values };

struct OutputReading {
  OutputKind kind = OutputKind::values;
  bool logits = false;  // the raw outputs are a binary loss's logits: sigmoid them
  int64_t units = 0;

  // One sample's raw outputs as probabilities or values, into out[0, units).
  void read(const float* raw, float* out) const;
  // The predicted class of a sample's read outputs: the most probable class, or for a single
  // unit whether p > 0.5 (0 or 1); -1 for plain values.
  int64_t predicted_class(const float* read) const;
};

OutputReading output_reading(const Experiment& experiment, int64_t units);

}  // namespace loom
