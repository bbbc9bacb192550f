// SGD with Keras 3's semantics (keras/src/optimizers/sgd.py):
//   defaults: learning_rate 0.01, momentum 0.0, nesterov false
//   momentum == 0:  w -= lr·g
//   momentum  > 0:  m = momentum·m - lr·g
//                   w += m                      (nesterov false)
//                   w += momentum·m - lr·g      (nesterov true)

#include "engine/core/parallel.hpp"
#include "engine/optim/optimizer.hpp"

namespace loom {

namespace {

class Sgd final : public Optimizer {
 public:
  Sgd(double momentum, bool nesterov) : momentum_(float(momentum)), nesterov_(nesterov) {}
  std::string_view name() const override { return "sgd"; }

 protected:
  std::vector<std::string> slot_names() const override {
    if (momentum_ == 0.f) return {};
    return {"momentum"};
  }

  void update(const UpdateStep& s) override {
    float* w = s.weights;
    const float* g = s.gradient;
    const float lr = s.learning_rate, decay = s.decay, mu = momentum_;
    if (momentum_ == 0.f) {
      for_each_element(s.size, [=](int64_t i) { w[i] -= decay * w[i] + lr * g[i]; });
      return;
    }
    float* m = s.slots[0];
    if (nesterov_) {
      for_each_element(s.size, [=](int64_t i) {
        m[i] = mu * m[i] - lr * g[i];
        w[i] += mu * m[i] - lr * g[i] - decay * w[i];
      });
    } else {
      for_each_element(s.size, [=](int64_t i) {
        m[i] = mu * m[i] - lr * g[i];
        w[i] += m[i] - decay * w[i];
      });
    }
  }

 private:
  float momentum_;
  bool nesterov_;
};

}  // namespace

void register_sgd(OptimizerRegistry& registry) {
  registry.add(
      "sgd",
      {.default_learning_rate = 0.01,
       .options = {real_option("momentum", 0.0, between(0.0, 1.0), "0: plain gradient descent"),
                   boolean_option("nesterov", false, "Nesterov momentum")},
       .create = [](const Attributes& options) {
         return std::make_unique<Sgd>(options.real("momentum"), options.boolean("nesterov"));
       }});
}

}  // namespace loom
