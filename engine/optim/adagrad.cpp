// Adagrad with Keras 3's semantics (keras/src/optimizers/adagrad.py):
//   defaults: learning_rate 0.001, initial_accumulator_value 0.1, epsilon 1e-7
//   accumulator starts at initial_accumulator_value
//   accumulator += g²;  w -= lr·g / sqrt(accumulator + epsilon)

#include <cmath>

#include "engine/core/parallel.hpp"
#include "engine/optim/optimizer.hpp"

namespace loom {

namespace {

class Adagrad final : public Optimizer {
 public:
  Adagrad(double initial_accumulator, double epsilon)
      : initial_accumulator_(float(initial_accumulator)), epsilon_(float(epsilon)) {}
  std::string_view name() const override { return "adagrad"; }

 protected:
  bool slot_is_nonnegative(const std::string& slot) const override { return slot == "accumulator"; }
  std::vector<std::string> slot_names() const override { return {"accumulator"}; }
  float initial_slot_value(size_t) const override { return initial_accumulator_; }

  void update(const UpdateStep& s) override {
    float* w = s.weights;
    float* accumulator = s.slots[0];
    const float* g = s.gradient;
    const float lr = s.learning_rate, decay = s.decay, eps = epsilon_;
    for_each_element(s.size, [=](int64_t i) {
      accumulator[i] += g[i] * g[i];
      w[i] -= decay * w[i] + lr * g[i] / std::sqrt(accumulator[i] + eps);
    });
  }

 private:
  float initial_accumulator_, epsilon_;
};

}  // namespace

void register_adagrad(OptimizerRegistry& registry) {
  registry.add("adagrad",
               {.options = {real_option("initial_accumulator_value", 0.1, at_least(0.0),
                                        "the accumulators' starting value"),
                            real_option("epsilon", 1e-7, at_least(0.0), "for numerical stability")},
                .create = [](const Attributes& options) {
                  return std::make_unique<Adagrad>(options.real("initial_accumulator_value"),
                                                   options.real("epsilon"));
                }});
}

}  // namespace loom
