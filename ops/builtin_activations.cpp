// The built-in element-wise activations beyond relu and sigmoid (one file each, see
// eltwise_common.hpp); registered from register_builtin_ops.

#include "engine/graph/op.hpp"

namespace loom {

void register_builtin_activations(OpRegistry& /*registry*/) {}

}  // namespace loom
