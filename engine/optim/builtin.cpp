// The built-in optimizers: one file each, plus one line here.

#include "engine/optim/optimizer.hpp"

namespace loom {

void register_rmsprop(OptimizerRegistry&);
void register_sgd(OptimizerRegistry&);

void register_builtin_optimizers(OptimizerRegistry& registry) {
  register_rmsprop(registry);
  register_sgd(registry);
}

}  // namespace loom
