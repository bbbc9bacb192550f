// SGD with Keras 3's semantics (keras/src/optimizers/sgd.py):
//   defaults: learning_rate 0.01, momentum 0.0, nesterov false
//   momentum == 0:  w -= lr·g
//   momentum  > 0:  m = momentum·m - lr·g
//                   w += m                      (nesterov false)
//                   w += momentum·m - lr·g      (nesterov true)

#include "engine/exec/parallel.hpp"
#include "engine/optim/optimizer.hpp"

namespace loom {

namespace {

class Sgd final : public Optimizer {
 public:
  Sgd(double learning_rate, double momentum, bool nesterov)
      : Optimizer(learning_rate), momentum_(static_cast<float>(momentum)), nesterov_(nesterov) {}

  std::string_view name() const override { return "sgd"; }

 protected:
  std::vector<std::string> slot_names() const override {
    if (momentum_ == 0.f) return {};
    return {"momentum"};
  }

  void update(std::span<float> weights, const float* g, std::span<float* const> slots,
              float lr) override {
    float* w = weights.data();
    const auto n = static_cast<int64_t>(weights.size());
    if (momentum_ == 0.f) {
      for_each_element(n, [=](int64_t i) { w[i] -= lr * g[i]; });
      return;
    }
    float* m = slots[0];
    const float mu = momentum_;
    if (nesterov_) {
      for_each_element(n, [=](int64_t i) {
        m[i] = mu * m[i] - lr * g[i];
        w[i] += mu * m[i] - lr * g[i];
      });
    } else {
      for_each_element(n, [=](int64_t i) {
        m[i] = mu * m[i] - lr * g[i];
        w[i] += m[i];
      });
    }
  }

 private:
  float momentum_;
  bool nesterov_;
};

}  // namespace

void register_sgd(OptimizerRegistry& registry) {
  registry.add("sgd", [](ConfigNode& options) -> std::unique_ptr<Optimizer> {
    const double learning_rate = options.get_real("learning_rate", 0.01, 0.0);
    const double momentum = options.get_real("momentum", 0.0, 0.0, 1.0);
    const bool nesterov = options.get_bool("nesterov", false);
    return std::make_unique<Sgd>(learning_rate, momentum, nesterov);
  });
}

}  // namespace loom
