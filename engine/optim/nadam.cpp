// Nadam with Keras 3's semantics (keras/src/optimizers/nadam.py):
//   defaults: learning_rate 0.001, beta_1 0.9, beta_2 0.999, epsilon 1e-7
//   t = iterations + 1; u(k) = beta_1·(1 - 0.5·0.96^k)
//   once per step: u_product *= u(t)       (u_product starts at 1)
//   m = beta_1·m + (1 - beta_1)·g;  v = beta_2·v + (1 - beta_2)·g²
//   m_hat = u(t+1)·m / (1 - u_product·u(t+1)) + (1 - u(t))·g / (1 - u_product)
//   v_hat = v / (1 - beta_2^t)
//   w -= lr·m_hat / (sqrt(v_hat) + epsilon)
// (Keras 2's schedule_decay of 0.004 is gone in Keras 3: the base is 0.96^t itself.)
// Keras casts beta_1 and beta_2 to float32 first here, so 1 - beta is float arithmetic (unlike
// Adam's); the moments update as m += (g - m)·(1 - beta_1), and v_hat divides by 1 - beta_2^t
// raised in float32 from the float32 beta_2 (keras_scalars.hpp). u_product stays a double
// (checkpoints hold it so): the momentum cache differs from Keras's float32 one by about an
// ulp.

#include <cmath>

#include "engine/core/parallel.hpp"
#include "engine/optim/keras_scalars.hpp"
#include "engine/optim/optimizer.hpp"

namespace loom {

namespace {

class Nadam final : public Optimizer {
 public:
  Nadam(double beta_1, double beta_2, double epsilon)
      : beta_1_(beta_1), beta_2_(beta_2), epsilon_(float(epsilon)) {}
  std::string_view name() const override { return "nadam"; }

 protected:
  std::vector<std::string> slot_names() const override { return {"momentum", "velocity"}; }

  std::vector<std::pair<std::string, double*>> own_scalar_state() override {
    return {{"u_product", &u_product_}};
  }

  // u_product is a function of the step count: a restored one must be that product.
  std::string own_state_problem() const override {
    double product = 1.0;
    for (int64_t t = 1; t <= iterations(); ++t) product *= momentum_cache(double(t));
    if (std::abs(u_product_ - product) <= 1e-9 * product) return "";
    return "u_product = the product of u(1) .. u(iterations) (" + std::to_string(product) + ")";
  }
  bool slot_is_nonnegative(const std::string& slot) const override { return slot == "velocity"; }

  void begin_step(int64_t iteration) override { u_product_ *= momentum_cache(iteration + 1); }

  void update(const UpdateStep& s) override {
    const double t = double(s.iteration + 1);
    const double u_t = momentum_cache(t), u_next = momentum_cache(t + 1);
    const auto m_scale = float(u_next / (1 - u_product_ * u_next));
    const auto g_scale = float((1 - u_t) / (1 - u_product_));
    const float v_correction = 1.f - keras_float_power(beta_2_, s.iteration + 1);
    float* w = s.weights;
    float* m = s.slots[0];
    float* v = s.slots[1];
    const float* g = s.gradient;
    const float lr = s.learning_rate, decay = s.decay, b1 = float(beta_1_), b2 = float(beta_2_),
                eps = epsilon_;
    for_each_element(s.size, [=](int64_t i) {
      m[i] += (g[i] - m[i]) * (1 - b1);
      v[i] += (g[i] * g[i] - v[i]) * (1 - b2);
      const float m_hat = m_scale * m[i] + g_scale * g[i];
      w[i] -= decay * w[i] + lr * m_hat / (std::sqrt(v[i] / v_correction) + eps);
    });
  }

 private:
  double momentum_cache(double step) const { return beta_1_ * (1 - 0.5 * std::pow(0.96, step)); }

  double beta_1_, beta_2_;
  float epsilon_;
  double u_product_ = 1.0;
};

}  // namespace

void register_nadam(OptimizerRegistry& registry) {
  registry.add(
      "nadam",
      {.options = {real_option("beta_1", 0.9, between(0.0, 1.0), "the first moment's decay"),
                   real_option("beta_2", 0.999, between(0.0, 1.0), "the second moment's decay"),
                   real_option("epsilon", 1e-7, at_least(0.0), "for numerical stability")},
       .create = [](const Attributes& options) {
         return std::make_unique<Nadam>(options.real("beta_1"), options.real("beta_2"),
                                        options.real("epsilon"));
       }});
}

}  // namespace loom
