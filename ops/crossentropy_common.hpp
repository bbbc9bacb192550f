#pragma once
// What the crossentropy ops share: the shape rule (predictions [B, C] with one-hot targets
// [B, C] (f32) or class indices [B] (i32); the loss is the batch mean, a scalar) and, for the
// ops that start from probabilities, Keras's clipped formula and its gradient. A target is
// read through a callable (row, class) -> weight, so dense and sparse targets share the loops.

#include <algorithm>
#include <cmath>

#include "engine/graph/op.hpp"

namespace loom {

inline void expect_crossentropy_operands(const Node& node, std::span<const TensorType> inputs,
                                         bool sparse) {
  expect_rank(node, inputs, 0, 2);
  expect_dtype(node, inputs, 0, DType::f32);
  const int64_t batch = inputs[0].shape[0];
  if (sparse) {
    expect_dtype(node, inputs, 1, DType::i32);
    if (inputs[1].shape != Shape{batch}) {
      fail_node(node, "expected class indices i32[" + std::to_string(batch) + "] for " +
                          describe_input(node, inputs, 0) + ", got " + to_string(inputs[1]));
    }
  } else if (inputs[1] != inputs[0]) {
    fail_node(node, "targets " + to_string(inputs[1]) + " do not match " +
                        describe_input(node, inputs, 0) + " (one-hot targets have its shape)");
  }
}

inline void expect_scalar(const Node& node, std::span<const TensorType> inputs, size_t index) {
  if (inputs[index].numel() != 1) {
    fail_node(node, "expected a scalar " + describe_input(node, inputs, index));
  }
}

inline constexpr float kProbabilityEpsilon = 1e-7f;  // Keras's backend epsilon

// Keras: rows renormalized to sum 1, clipped to [eps, 1 - eps], loss = mean_b -Σ y·log(q).
template <typename Target>
float crossentropy_from_probabilities(const float* p, const Target& target, int64_t batch,
                                      int64_t classes) {
  double total = 0;
  for (int64_t b = 0; b < batch; ++b) {
    const float* row = p + b * classes;
    float sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += row[c];
    for (int64_t c = 0; c < classes; ++c) {
      const float weight = target(b, c);
      if (weight == 0.f) continue;
      const float q = std::clamp(row[c] / sum, kProbabilityEpsilon, 1 - kProbabilityEpsilon);
      total -= weight * std::log(q);
    }
  }
  return static_cast<float>(total / double(batch));
}

// With s = Σp, q = p/s and g_j = -y_j/q_j where q_j is not clipped (0 where it is):
// dp_k = (g_k - Σ_j g_j·q_j) / s, times `scale` (dloss / batch).
template <typename Target>
void crossentropy_from_probabilities_backward(const float* p, const Target& target, float scale,
                                              float* dp, int64_t batch, int64_t classes) {
  for (int64_t b = 0; b < batch; ++b) {
    const float* row = p + b * classes;
    float* d_row = dp + b * classes;
    float sum = 0;
    for (int64_t c = 0; c < classes; ++c) sum += row[c];
    float weighted = 0;  // Σ_j g_j·q_j
    for (int64_t c = 0; c < classes; ++c) {
      const float q = row[c] / sum;
      const bool clipped = q < kProbabilityEpsilon || q > 1 - kProbabilityEpsilon;
      const float g = clipped ? 0.f : -target(b, c) / q;
      d_row[c] = g;
      weighted += g * q;
    }
    for (int64_t c = 0; c < classes; ++c) d_row[c] = (d_row[c] - weighted) / sum * scale;
  }
}

}  // namespace loom
