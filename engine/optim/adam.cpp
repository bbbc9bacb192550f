// Adam and AdamW with Keras 3's semantics (keras/src/optimizers/adam.py, adamw.py):
//   defaults: learning_rate 0.001, beta_1 0.9, beta_2 0.999, epsilon 1e-7, amsgrad false;
//   adamw is the same optimizer with weight_decay 0.004 by default (decoupled, applied by
//   the base optimizer as w -= w·weight_decay·lr).
//   t = iterations + 1
//   m = beta_1·m + (1 - beta_1)·g;  v = beta_2·v + (1 - beta_2)·g²
//   amsgrad: v_hat = max(v_hat, v), used in place of v below (v itself stays the average)
//   w -= lr·sqrt(1 - beta_2^t)/(1 - beta_1^t) · m / (sqrt(v) + epsilon)
// epsilon is outside the root and not bias-corrected (the paper's "epsilon hat").
// Scalars as Keras forms them (keras_scalars.hpp): 1 - beta_1 and 1 - beta_2 in double, cast
// once; the bias corrections beta^t from the float32 betas, in float32 (Keras casts beta to
// the variable's dtype before raising it, then takes sqrt(1 - beta_2^t) in float32 too).

#include <cmath>

#include "engine/core/parallel.hpp"
#include "engine/optim/keras_scalars.hpp"
#include "engine/optim/optimizer.hpp"

namespace loom {

namespace {

class Adam final : public Optimizer {
 public:
  Adam(std::string name, double beta_1, double beta_2, double epsilon, bool amsgrad)
      : name_(std::move(name)),
        beta_1_(beta_1),
        beta_2_(beta_2),
        one_minus_beta_1_(keras_one_minus(beta_1)),
        one_minus_beta_2_(keras_one_minus(beta_2)),
        epsilon_(float(epsilon)),
        amsgrad_(amsgrad) {}
  std::string_view name() const override { return name_; }

 protected:
  bool slot_is_nonnegative(const std::string& slot) const override {
    return slot == "velocity" || slot == "velocity_hat";
  }
  std::vector<std::string> slot_names() const override {
    if (amsgrad_) return {"momentum", "velocity", "velocity_hat"};
    return {"momentum", "velocity"};
  }

  void update(const UpdateStep& s) override {
    const float beta_1_power = keras_float_power(beta_1_, s.iteration + 1);
    const float beta_2_power = keras_float_power(beta_2_, s.iteration + 1);
    const float alpha = s.learning_rate * std::sqrt(1.f - beta_2_power) / (1.f - beta_1_power);
    float* w = s.weights;
    float* m = s.slots[0];
    float* v = s.slots[1];
    const float* g = s.gradient;
    const float decay = s.decay, k1 = one_minus_beta_1_, k2 = one_minus_beta_2_, eps = epsilon_;
    if (amsgrad_) {
      float* v_hat = s.slots[2];
      for_each_element(s.size, [=](int64_t i) {
        m[i] += (g[i] - m[i]) * k1;
        v[i] += (g[i] * g[i] - v[i]) * k2;
        v_hat[i] = std::max(v_hat[i], v[i]);
        w[i] -= decay * w[i] + alpha * m[i] / (std::sqrt(v_hat[i]) + eps);
      });
      return;
    }
    for_each_element(s.size, [=](int64_t i) {
      m[i] += (g[i] - m[i]) * k1;
      v[i] += (g[i] * g[i] - v[i]) * k2;
      w[i] -= decay * w[i] + alpha * m[i] / (std::sqrt(v[i]) + eps);
    });
  }

 private:
  std::string name_;
  double beta_1_, beta_2_;
  float one_minus_beta_1_, one_minus_beta_2_, epsilon_;
  bool amsgrad_;
};

OptimizerDefinition adam_definition(const std::string& name, double default_weight_decay) {
  return {
      .default_weight_decay = default_weight_decay,
      .options = {real_option("beta_1", 0.9, between(0.0, 1.0), "the first moment's decay"),
                  real_option("beta_2", 0.999, between(0.0, 1.0), "the second moment's decay"),
                  real_option("epsilon", 1e-7, at_least(0.0),
                              "for numerical stability (outside the root)"),
                  boolean_option("amsgrad", false, "divide by the largest second moment so far")},
      .create = [name](const Attributes& options) {
        return std::make_unique<Adam>(name, options.real("beta_1"), options.real("beta_2"),
                                      options.real("epsilon"), options.boolean("amsgrad"));
      }};
}

}  // namespace

void register_adam(OptimizerRegistry& registry) {
  registry.add("adam", adam_definition("adam", 0.0));
  registry.add("adamw", adam_definition("adamw", 0.004));
}

}  // namespace loom
