// mean_squared_error(p, y) = mean((p - y)²) (Keras's MeanSquaredError); ∂/∂p = 2(p - y).

#include "ops/elementwise_loss.hpp"

namespace loom {

namespace {

struct SquaredError {
  static constexpr std::string_view kName = "mean_squared_error";
  static std::vector<AttributeSpec> attributes() { return {}; }
  explicit SquaredError(const Attributes&) {}
  float value(float p, float y) const { return (p - y) * (p - y); }
  float derivative(float p, float y) const { return 2 * (p - y); }
  double reference(double p, double y) const { return (p - y) * (p - y); }
};

}  // namespace

void register_mean_squared_error(OpRegistry& registry) {
  register_elementwise_loss<SquaredError>(registry);
}

}  // namespace loom
