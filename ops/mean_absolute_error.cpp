// mean_absolute_error(p, y) = mean(|p - y|) (Keras's MeanAbsoluteError); ∂/∂p = sign(p - y),
// 0 where p = y (the subgradient every framework picks).

#include <cmath>

#include "ops/elementwise_loss.hpp"

namespace loom {

namespace {

struct AbsoluteError {
  static constexpr std::string_view kName = "mean_absolute_error";
  static std::vector<AttributeSpec> attributes() { return {}; }
  explicit AbsoluteError(const Attributes&) {}
  float value(float p, float y) const { return std::abs(p - y); }
  float derivative(float p, float y) const { return float(p > y) - float(p < y); }
  double reference(double p, double y) const { return std::abs(p - y); }
};

}  // namespace

void register_mean_absolute_error(OpRegistry& registry) {
  register_elementwise_loss<AbsoluteError>(registry);
}

}  // namespace loom
