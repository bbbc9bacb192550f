// The built-in element-wise activations beyond relu and sigmoid (one file each, see
// eltwise_common.hpp); registered from register_builtin_ops.

#include "engine/graph/op.hpp"

namespace loom {

void register_tanh(OpRegistry&);        // ops/tanh.cpp
void register_leaky_relu(OpRegistry&);  // ops/leaky_relu.cpp
void register_elu(OpRegistry&);         // ops/elu.cpp
void register_gelu(OpRegistry&);        // ops/gelu.cpp
void register_swish(OpRegistry&);       // ops/swish.cpp: swish and silu
void register_softplus(OpRegistry&);    // ops/softplus.cpp
void register_exp(OpRegistry&);         // ops/exp.cpp
void register_log(OpRegistry&);         // ops/log.cpp
void register_sqrt(OpRegistry&);        // ops/sqrt.cpp

void register_builtin_activations(OpRegistry& registry) {
  register_tanh(registry);
  register_leaky_relu(registry);
  register_elu(registry);
  register_gelu(registry);
  register_swish(registry);
  register_softplus(registry);
  register_exp(registry);
  register_log(registry);
  register_sqrt(registry);
}

}  // namespace loom
