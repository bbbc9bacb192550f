// Lion with Keras 3's semantics (keras/src/optimizers/lion.py):
//   defaults: learning_rate 0.001, beta_1 0.9, beta_2 0.99 (beta_1 in (0, 1])
//   w -= lr·sign(beta_1·m + (1 - beta_1)·g)        (sign(0) = 0)
//   m  = beta_2·m + (1 - beta_2)·g
// beta_1 only mixes the direction; beta_2 is the decay of the stored momentum.

#include "engine/core/parallel.hpp"
#include "engine/optim/optimizer.hpp"

namespace loom {

namespace {

class Lion final : public Optimizer {
 public:
  Lion(double beta_1, double beta_2) : beta_1_(float(beta_1)), beta_2_(float(beta_2)) {}
  std::string_view name() const override { return "lion"; }

 protected:
  std::vector<std::string> slot_names() const override { return {"momentum"}; }

  void update(const UpdateStep& s) override {
    float* w = s.weights;
    float* m = s.slots[0];
    const float* g = s.gradient;
    const float lr = s.learning_rate, decay = s.decay, b1 = beta_1_, b2 = beta_2_;
    for_each_element(s.size, [=](int64_t i) {
      const float c = b1 * m[i] + (1 - b1) * g[i];
      const float sign = float(c > 0) - float(c < 0);
      w[i] -= decay * w[i] + lr * sign;
      m[i] = b2 * m[i] + (1 - b2) * g[i];
    });
  }

 private:
  float beta_1_, beta_2_;
};

}  // namespace

void register_lion(OptimizerRegistry& registry) {
  registry.add("lion",
               {.options = {real_option("beta_1", 0.9, above_up_to(0.0, 1.0),
                                        "the interpolation of momentum and gradient"),
                            real_option("beta_2", 0.99, between(0.0, 1.0), "the momentum's decay")},
                .create = [](const Attributes& options) {
                  return std::make_unique<Lion>(options.real("beta_1"), options.real("beta_2"));
                }});
}

}  // namespace loom
