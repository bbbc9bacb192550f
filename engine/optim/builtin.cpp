// The built-in optimizers: one file each, plus one line here.

#include "engine/optim/optimizer.hpp"

namespace loom {

void register_adadelta(OptimizerRegistry&);
void register_adagrad(OptimizerRegistry&);
void register_adam(OptimizerRegistry&);  // adam and adamw
void register_adamax(OptimizerRegistry&);
void register_lion(OptimizerRegistry&);
void register_nadam(OptimizerRegistry&);
void register_rmsprop(OptimizerRegistry&);
void register_sgd(OptimizerRegistry&);

void register_builtin_optimizers(OptimizerRegistry& registry) {
  register_adadelta(registry);
  register_adagrad(registry);
  register_adam(registry);
  register_adamax(registry);
  register_lion(registry);
  register_nadam(registry);
  register_rmsprop(registry);
  register_sgd(registry);
}

}  // namespace loom
