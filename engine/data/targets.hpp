#pragma once
// What a loss expects of its targets, and the check of every target against it at load, with
// a message that says what to change. Keras's conventions:
//   sparse_categorical_crossentropy: one class index per sample, 0 <= index < classes;
//   categorical_crossentropy: one-hot rows, or class indices (made one-hot here);
//   binary_crossentropy: one 0/1 value per output (a single unit, or k-hot for multi-label);
//   regression losses (mse, mae, huber, ...): as many values per sample as the output has
//     (a class index per sample against a k-unit output is made one-hot, as for categorical).

#include <cstdint>
#include <string>

#include "engine/data/dataset_spec.hpp"
#include "engine/data/sample_array.hpp"

namespace loom {

enum class TargetFamily { class_index, categorical, binary, regression };

struct TargetRequest {
  TargetFamily family = TargetFamily::categorical;
  int64_t width = 0;  // the model output's values per sample
  std::string loss;   // its name, for messages
};

// How the targets are written into batches. InputError "<name>: ..." naming the first sample
// at fault, or the shapes and what to change.
LabelEncoding check_targets(const SampleArray& targets, const TargetRequest& request,
                            const std::string& name);

}  // namespace loom
