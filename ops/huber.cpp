// huber(p, y) with attribute delta (Keras's Huber, default 1.0): with e = p - y,
//   0.5·e²               where |e| <= delta
//   delta·(|e| - delta/2) elsewhere
// averaged; ∂/∂p = e where |e| <= delta, delta·sign(e) elsewhere.

#include <cmath>

#include "ops/elementwise_loss.hpp"

namespace loom {

namespace {

struct Huber {
  static constexpr std::string_view kName = "huber";
  static std::vector<AttributeSpec> attributes() {
    return {{"delta", AttributeKind::real, "where the loss turns from quadratic to linear (1.0)"}};
  }
  explicit Huber(const Attributes& attributes)
      : exact_delta(attributes.get_real("delta", 1.0)), delta(float(exact_delta)) {
    if (!(delta > 0)) throw InputError("huber: delta must be positive");
  }
  float value(float p, float y) const {
    const float e = std::abs(p - y);
    return e <= delta ? 0.5f * e * e : delta * (e - 0.5f * delta);
  }
  float derivative(float p, float y) const {
    const float e = p - y;
    return std::abs(e) <= delta ? e : delta * (float(e > 0) - float(e < 0));
  }
  double reference(double p, double y) const {
    const double e = std::abs(p - y);
    return e <= exact_delta ? 0.5 * e * e : exact_delta * (e - 0.5 * exact_delta);
  }
  double exact_delta;  // the attribute as given, for the reference
  float delta;         // as the kernels compute
};

}  // namespace

void register_huber(OpRegistry& registry) {
  register_elementwise_loss<Huber>(registry);
}

}  // namespace loom
