// softmax along one axis (the last by default): y = exp(x - max) / Σ exp(x - max).
// oneDNN's softmax_v2; the backward reads the output: dx = y ⊙ (dy - Σ dy ⊙ y).
// On the loss path the softmax_crossentropy fusion replaces it (see that file).

#include "ops/softmax_common.hpp"

namespace loom {

void register_softmax(OpRegistry& registry) {
  register_softmax_kind(registry,
                        {.name = "softmax", .algorithm = dnnl::algorithm::softmax_accurate});
}

}  // namespace loom
