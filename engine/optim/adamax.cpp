// Adamax with Keras 3's semantics (keras/src/optimizers/adamax.py):
//   defaults: learning_rate 0.001, beta_1 0.9, beta_2 0.999, epsilon 1e-7
//   t = iterations + 1
//   m = beta_1·m + (1 - beta_1)·g;  u = max(beta_2·u, |g|)
//   w -= lr·m / ((1 - beta_1^t)·(u + epsilon))
// As Keras computes it: m += (g - m)·(1 - beta_1) with 1 - beta_1 taken in double and cast
// once, and beta_1^t from the float32 beta_1, in float32 (keras_scalars.hpp); the bias
// correction multiplies the denominator, as in Keras, rather than scaling the rate.

#include <cmath>

#include "engine/core/parallel.hpp"
#include "engine/optim/keras_scalars.hpp"
#include "engine/optim/optimizer.hpp"

namespace loom {

namespace {

class Adamax final : public Optimizer {
 public:
  Adamax(double beta_1, double beta_2, double epsilon)
      : beta_1_(beta_1),
        one_minus_beta_1_(keras_one_minus(beta_1)),
        beta_2_(float(beta_2)),
        epsilon_(float(epsilon)) {}
  std::string_view name() const override { return "adamax"; }

 protected:
  bool slot_is_nonnegative(const std::string& slot) const override { return slot == "norm"; }
  std::vector<std::string> slot_names() const override { return {"momentum", "norm"}; }

  void update(const UpdateStep& s) override {
    const float correction = 1.f - keras_float_power(beta_1_, s.iteration + 1);
    float* w = s.weights;
    float* m = s.slots[0];
    float* u = s.slots[1];
    const float* g = s.gradient;
    const float lr = s.learning_rate, decay = s.decay, k1 = one_minus_beta_1_, b2 = beta_2_,
                eps = epsilon_;
    for_each_element(s.size, [=](int64_t i) {
      m[i] += (g[i] - m[i]) * k1;
      u[i] = std::max(b2 * u[i], std::abs(g[i]));
      w[i] -= decay * w[i] + lr * m[i] / (correction * (u[i] + eps));
    });
  }

 private:
  double beta_1_;
  float one_minus_beta_1_, beta_2_, epsilon_;
};

}  // namespace

void register_adamax(OptimizerRegistry& registry) {
  registry.add(
      "adamax",
      {.options = {real_option("beta_1", 0.9, between(0.0, 1.0), "the first moment's decay"),
                   real_option("beta_2", 0.999, between(0.0, 1.0), "the infinity norm's decay"),
                   real_option("epsilon", 1e-7, at_least(0.0), "for numerical stability")},
       .create = [](const Attributes& options) {
         return std::make_unique<Adamax>(options.real("beta_1"), options.real("beta_2"),
                                         options.real("epsilon"));
       }});
}

}  // namespace loom
