// The built-in ops. Each op file defines one register_* function; adding an op is one file
// plus one line here. The library calls this explicitly (OpRegistry::global), because a
// static library drops object files that only self-register through static initializers.

#include "engine/graph/op.hpp"

namespace loom {

void register_add(OpRegistry&);
void register_builtin_activations(OpRegistry&);  // ops/builtin_activations.cpp
void register_bias_add(OpRegistry&);
void register_categorical_crossentropy(OpRegistry&);
void register_fused_matmul(OpRegistry&);
void register_matmul(OpRegistry&);
void register_reduce_sum(OpRegistry&);
void register_sigmoid(OpRegistry&);
void register_relu(OpRegistry&);
void register_softmax(OpRegistry&);
void register_softmax_crossentropy(OpRegistry&);
void register_sparse_categorical_crossentropy(OpRegistry&);

void register_builtin_ops(OpRegistry& registry) {
  register_add(registry);
  register_builtin_activations(registry);
  register_bias_add(registry);
  register_categorical_crossentropy(registry);
  register_fused_matmul(registry);
  register_matmul(registry);
  register_reduce_sum(registry);
  register_sigmoid(registry);
  register_relu(registry);
  register_softmax(registry);
  register_softmax_crossentropy(registry);
  register_sparse_categorical_crossentropy(registry);
}

}  // namespace loom
