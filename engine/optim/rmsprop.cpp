// RMSprop with Keras 3's semantics (keras/src/optimizers/rmsprop.py):
//   defaults: learning_rate 0.001, rho 0.9, momentum 0.0, epsilon 1e-7, centered false
//   v = rho·v + (1 - rho)·g²
//   centered: a = rho·a + (1 - rho)·g;  denominator = (v - a²) + epsilon
//   else:                               denominator = v + epsilon
//   increment = lr·g / sqrt(denominator)
//   momentum > 0: m = momentum·m + increment; w -= m      else: w -= increment
// Note epsilon sits inside the square root; PyTorch's RMSprop adds it outside and defaults
// to alpha 0.99, eps 1e-8, so the same words there mean a different update.
// Keras writes `1 - rho` in Python: taken in double and cast once (keras_scalars.hpp).

#include <cmath>

#include "engine/core/parallel.hpp"
#include "engine/optim/keras_scalars.hpp"
#include "engine/optim/optimizer.hpp"

namespace loom {

namespace {

class RmsProp final : public Optimizer {
 public:
  RmsProp(double rho, double momentum, double epsilon, bool centered)
      : rho_(float(rho)),
        one_minus_rho_(keras_one_minus(rho)),
        momentum_(float(momentum)),
        epsilon_(float(epsilon)),
        centered_(centered) {}
  std::string_view name() const override { return "rmsprop"; }

 protected:
  bool slot_is_nonnegative(const std::string& slot) const override { return slot == "velocity"; }
  std::vector<std::string> slot_names() const override {
    std::vector<std::string> names = {"velocity"};
    if (momentum_ > 0.f) names.push_back("momentum");
    if (centered_) names.push_back("average_gradient");
    return names;
  }

  void update(const UpdateStep& s) override {
    float* w = s.weights;
    const float* g = s.gradient;
    const float lr = s.learning_rate, decay = s.decay;
    const float rho = rho_, keep = one_minus_rho_, eps = epsilon_, mu = momentum_;
    float* v = s.slots[0];
    float* m = mu > 0.f ? s.slots[1] : nullptr;
    float* a = centered_ ? s.slots[mu > 0.f ? 2 : 1] : nullptr;
    // One fused pass per parameter; the common variant gets a loop of its own, free of
    // branches, so that it vectorizes fully.
    if (!a && !m) {
      for_each_element(s.size, [=](int64_t i) {
        v[i] = rho * v[i] + keep * (g[i] * g[i]);
        w[i] -= decay * w[i] + lr * g[i] / std::sqrt(v[i] + eps);
      });
      return;
    }
    for_each_element(s.size, [=](int64_t i) {
      v[i] = rho * v[i] + keep * (g[i] * g[i]);
      float denominator;
      if (a) {
        a[i] = rho * a[i] + keep * g[i];
        denominator = v[i] - a[i] * a[i] + eps;  // Keras's order: epsilon added last
      } else {
        denominator = v[i] + eps;
      }
      float increment = lr * g[i] / std::sqrt(denominator);
      if (m) {
        m[i] = mu * m[i] + increment;
        increment = m[i];
      }
      w[i] -= decay * w[i] + increment;
    });
  }

 private:
  float rho_, one_minus_rho_, momentum_, epsilon_;
  bool centered_;
};

}  // namespace

void register_rmsprop(OptimizerRegistry& registry) {
  registry.add("rmsprop",
               {.options = {real_option("rho", 0.9, between(0.0, 1.0),
                                        "the discount of the squared gradients' average"),
                            real_option("momentum", 0.0, between(0.0, 1.0), "0: no momentum"),
                            real_option("epsilon", 1e-7, at_least(0.0),
                                        "for numerical stability (inside the square root)"),
                            boolean_option("centered", false,
                                           "normalize by the gradient's variance, not its square")},
                .create = [](const Attributes& options) {
                  return std::make_unique<RmsProp>(options.real("rho"), options.real("momentum"),
                                                   options.real("epsilon"),
                                                   options.boolean("centered"));
                }});
}

}  // namespace loom
