// Adadelta with Keras 3's semantics (keras/src/optimizers/adadelta.py):
//   defaults: learning_rate 0.001, rho 0.95, epsilon 1e-7
//   Eg  = rho·Eg + (1 - rho)·g²
//   d   = -sqrt(Edx + epsilon)·g / sqrt(Eg + epsilon)     (Edx before this step's update)
//   Edx = rho·Edx + (1 - rho)·d²
//   w  += lr·d
// The learning rate multiplies the step; learning_rate 1.0 gives the paper's method.
// Keras writes `1 - rho` in Python: taken in double and cast once (keras_scalars.hpp).

#include <cmath>

#include "engine/core/parallel.hpp"
#include "engine/optim/keras_scalars.hpp"
#include "engine/optim/optimizer.hpp"

namespace loom {

namespace {

class Adadelta final : public Optimizer {
 public:
  Adadelta(double rho, double epsilon)
      : rho_(float(rho)), one_minus_rho_(keras_one_minus(rho)), epsilon_(float(epsilon)) {}
  std::string_view name() const override { return "adadelta"; }

 protected:
  // Both accumulate squares.
  bool slot_is_nonnegative(const std::string& /*slot*/) const override { return true; }
  std::vector<std::string> slot_names() const override {
    return {"accumulated_grad", "accumulated_delta_var"};
  }

  void update(const UpdateStep& s) override {
    float* w = s.weights;
    float* grad_average = s.slots[0];
    float* delta_average = s.slots[1];
    const float* g = s.gradient;
    const float lr = s.learning_rate, decay = s.decay, rho = rho_, keep = one_minus_rho_,
                eps = epsilon_;
    for_each_element(s.size, [=](int64_t i) {
      grad_average[i] = rho * grad_average[i] + keep * (g[i] * g[i]);
      const float delta =
          -std::sqrt(delta_average[i] + eps) * g[i] / std::sqrt(grad_average[i] + eps);
      delta_average[i] = rho * delta_average[i] + keep * (delta * delta);
      w[i] += lr * delta - decay * w[i];
    });
  }

 private:
  float rho_, one_minus_rho_, epsilon_;
};

}  // namespace

void register_adadelta(OptimizerRegistry& registry) {
  registry.add("adadelta",
               {.options = {real_option("rho", 0.95, between(0.0, 1.0), "the decay rate"),
                            real_option("epsilon", 1e-7, at_least(0.0), "for numerical stability")},
                .create = [](const Attributes& options) {
                  return std::make_unique<Adadelta>(options.real("rho"), options.real("epsilon"));
                }});
}

}  // namespace loom
