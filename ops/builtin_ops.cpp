// The built-in ops. Each op file defines one register_* function; adding an op is one file
// plus one line here.

#include "engine/graph/op.hpp"

namespace loom {

void register_add(OpRegistry&);
void register_batch_norm(OpRegistry&);
void register_pooling(OpRegistry&);
void register_max_pool2d_backward(OpRegistry&);
void register_global_avg_pool2d(OpRegistry&);
void register_conv2d(OpRegistry&);
void register_reorder(OpRegistry&);
void register_l2_penalty(OpRegistry&);
void register_mean_squared_error(OpRegistry&);
void register_mean_absolute_error(OpRegistry&);
void register_huber(OpRegistry&);
void register_binary_crossentropy(OpRegistry&);
void register_dropout(OpRegistry&);
void register_transpose(OpRegistry&);
void register_reshape(OpRegistry&);
void register_flatten(OpRegistry&);
void register_concat(OpRegistry&);
void register_reduce_mean(OpRegistry&);
void register_broadcast_axes(OpRegistry&);
void register_sum_to_shape(OpRegistry&);
void register_sub(OpRegistry&);
void register_scale(OpRegistry&);
void register_mul(OpRegistry&);
void register_div(OpRegistry&);
void register_builtin_activations(OpRegistry&);  // ops/builtin_activations.cpp
void register_bias_add(OpRegistry&);
void register_categorical_crossentropy(OpRegistry&);
void register_fused_matmul(OpRegistry&);
void register_matmul(OpRegistry&);
void register_reduce_sum(OpRegistry&);
void register_sigmoid(OpRegistry&);
void register_relu(OpRegistry&);
void register_softmax(OpRegistry&);
void register_log_softmax(OpRegistry&);
void register_softmax_crossentropy(OpRegistry&);
void register_sparse_categorical_crossentropy(OpRegistry&);

void register_builtin_ops(OpRegistry& registry) {
  register_add(registry);
  register_batch_norm(registry);
  register_pooling(registry);
  register_max_pool2d_backward(registry);
  register_global_avg_pool2d(registry);
  register_conv2d(registry);
  register_reorder(registry);
  register_l2_penalty(registry);
  register_mean_squared_error(registry);
  register_mean_absolute_error(registry);
  register_huber(registry);
  register_binary_crossentropy(registry);
  register_dropout(registry);
  register_transpose(registry);
  register_reshape(registry);
  register_flatten(registry);
  register_concat(registry);
  register_reduce_mean(registry);
  register_broadcast_axes(registry);
  register_sum_to_shape(registry);
  register_sub(registry);
  register_scale(registry);
  register_mul(registry);
  register_div(registry);
  register_builtin_activations(registry);
  register_bias_add(registry);
  register_categorical_crossentropy(registry);
  register_fused_matmul(registry);
  register_matmul(registry);
  register_reduce_sum(registry);
  register_sigmoid(registry);
  register_relu(registry);
  register_softmax(registry);
  register_log_softmax(registry);
  register_softmax_crossentropy(registry);
  register_sparse_categorical_crossentropy(registry);
}

namespace {

// Registered when the engine library is loaded, before main(): the registry lives in the graph
// layer, which may not call up into ops. The engine is one shared library made of every
// layer's object files (none is dropped, as a static archive would drop a member nothing
// references), so this always runs.
[[maybe_unused]] const bool kBuiltinOpsRegistered =
    (register_builtin_ops(OpRegistry::global()), true);

}  // namespace

}  // namespace loom
