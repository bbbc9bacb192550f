#include "engine/train/prediction.hpp"

#include <algorithm>
#include <cmath>

namespace loom {

OutputReading output_reading(const Experiment& experiment, int64_t units) {
  const TargetFamily family = experiment.trainer.loss.targets;
  OutputReading reading{.logits = experiment.trainer.loss.from_logits, .units = units};
  if (family == TargetFamily::class_index || family == TargetFamily::categorical) {
    reading.kind = OutputKind::classes;
  } else if (family == TargetFamily::binary && units == 1) {
    reading.kind = OutputKind::probability;
  }
  return reading;
}

void OutputReading::read(const float* raw, float* out) const {
  for (int64_t c = 0; c < units; ++c) out[c] = logits ? 1.f / (1.f + std::exp(-raw[c])) : raw[c];
}

int64_t OutputReading::predicted_class(const float* read) const {
  switch (kind) {
    case OutputKind::classes:
      return std::max_element(read, read + units) - read;
    case OutputKind::probability:
      return read[0] > 0.5f ? 1 : 0;
    case OutputKind::values:
      break;
  }
  return -1;
}

}  // namespace loom
