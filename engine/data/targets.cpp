#include "engine/data/targets.hpp"

#include <cmath>

#include "engine/core/error.hpp"

namespace loom {

namespace {

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.9g", value);
  return text;
}

std::string sample_at(const std::string& name, int64_t sample) {
  return name + ": the target of sample " + std::to_string(sample);
}

void check_finite(const SampleArray& targets, const std::string& name) {
  if (is_integer(targets.type())) return;
  for (int64_t s = 0; s < targets.count(); ++s) {
    for (int64_t e = 0; e < targets.sample_values(); ++e) {
      if (!std::isfinite(targets.value(s, e))) {
        throw InputError(sample_at(name, s) + " is " + number(targets.value(s, e)) +
                         "; targets must be finite");
      }
    }
  }
}

void check_class_indices(const SampleArray& targets, const TargetRequest& request,
                         const std::string& name) {
  for (int64_t s = 0; s < targets.count(); ++s) {
    const double value = targets.value(s, 0);
    if (value != std::floor(value) || value < 0 || value >= double(request.width)) {
      throw InputError(sample_at(name, s) + " is " + number(value) + ", not a class index 0.." +
                       std::to_string(request.width - 1) + " (the model output has " +
                       std::to_string(request.width) + " units)");
    }
  }
}

void check_probabilities(const SampleArray& targets, const std::string& name,
                         const std::string& loss) {
  for (int64_t s = 0; s < targets.count(); ++s) {
    for (int64_t e = 0; e < targets.sample_values(); ++e) {
      const double value = targets.value(s, e);
      if (value < 0 || value > 1) {
        throw InputError(sample_at(name, s) + " holds " + number(value) + "; " + loss +
                         " needs targets from 0 to 1");
      }
    }
  }
}

std::string shape_mismatch(const SampleArray& targets, const TargetRequest& request,
                           const std::string& name) {
  return name + ": " + std::to_string(targets.sample_values()) +
         " target values per sample, but the model output has " + std::to_string(request.width) +
         " units";
}

}  // namespace

LabelEncoding check_targets(const SampleArray& targets, const TargetRequest& request,
                            const std::string& name) {
  check_finite(targets, name);
  const int64_t values = targets.sample_values();
  const bool one_per_sample = values == 1;
  switch (request.family) {
    case TargetFamily::class_index:
      if (!one_per_sample) {
        throw InputError(shape_mismatch(targets, request, name) + "; " + request.loss +
                         " takes one class index per sample (for one-hot rows use "
                         "categorical_crossentropy)");
      }
      check_class_indices(targets, request, name);
      return LabelEncoding::index;
    case TargetFamily::binary:
      if (values != request.width) {
        throw InputError(shape_mismatch(targets, request, name) + "; " + request.loss +
                         " takes one 0/1 target per output unit (for one class index per "
                         "sample, end with a softmax and use sparse_categorical_crossentropy)");
      }
      check_probabilities(targets, name, request.loss);
      return LabelEncoding::dense;
    case TargetFamily::categorical:
    case TargetFamily::regression:
      if (values == request.width) {
        if (request.family == TargetFamily::categorical) {
          check_probabilities(targets, name, request.loss);
        }
        return LabelEncoding::dense;
      }
      if (one_per_sample && request.width > 1) {
        check_class_indices(targets, request, name);
        return LabelEncoding::one_hot;
      }
      throw InputError(shape_mismatch(targets, request, name) + "; give " +
                       std::to_string(request.width) + " values per sample" +
                       (request.family == TargetFamily::categorical
                            ? " (one-hot) or one class index"
                            : " or change the last layer's units"));
  }
  return LabelEncoding::dense;
}

}  // namespace loom
