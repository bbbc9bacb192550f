// binary_crossentropy(p, y) with attribute from_logits (Keras's BinaryCrossentropy, default
// false), averaged over every element:
//   from probabilities: p clipped to [1e-7, 1 - 1e-7] (Keras's epsilon),
//     -(y·log p + (1 - y)·log(1 - p)),  ∂/∂p = (p - y) / (p·(1 - p)), 0 where clipped
//   from logits x, in the stable form max(x, 0) - x·y + log(1 + exp(-|x|)),
//     ∂/∂x = sigmoid(x) - y

#include <algorithm>
#include <cmath>

#include "ops/elementwise_loss.hpp"

namespace loom {

namespace {

constexpr float kEpsilon = 1e-7f;

struct BinaryCrossentropy {
  static constexpr std::string_view kName = "binary_crossentropy";
  static std::vector<AttributeSpec> attributes() {
    return {{"from_logits", AttributeKind::boolean, "p holds logits, not probabilities"}};
  }
  explicit BinaryCrossentropy(const Attributes& attributes)
      : from_logits(attributes.get_bool("from_logits", false)) {}

  float value(float p, float y) const {
    if (from_logits) return std::max(p, 0.f) - p * y + std::log1p(std::exp(-std::abs(p)));
    const float q = std::clamp(p, kEpsilon, 1 - kEpsilon);
    return -(y * std::log(q) + (1 - y) * std::log(1 - q));
  }
  float derivative(float p, float y) const {
    if (from_logits) return 1 / (1 + std::exp(-p)) - y;
    if (p < kEpsilon || p > 1 - kEpsilon) return 0.f;
    return (p - y) / (p * (1 - p));
  }
  double reference(double p, double y) const {
    if (from_logits) return std::max(p, 0.0) - p * y + std::log1p(std::exp(-std::abs(p)));
    const double q = std::clamp(p, double(kEpsilon), 1 - double(kEpsilon));
    return -(y * std::log(q) + (1 - y) * std::log(1 - q));
  }
  bool from_logits;
};

}  // namespace

void register_binary_crossentropy(OpRegistry& registry) {
  register_elementwise_loss<BinaryCrossentropy>(registry);
}

}  // namespace loom
