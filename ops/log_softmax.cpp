// log_softmax along one axis (the last by default): y = x - max - log Σ exp(x - max), the
// logarithm of softmax computed without forming it (Keras's log_softmax, ONNX's LogSoftmax),
// so large logits give finite values where log(softmax(x)) would give -inf. oneDNN's
// softmax_v2 with softmax_log; the backward reads the output: dx = dy - exp(y) ⊙ Σ dy.

#include "ops/softmax_common.hpp"

namespace loom {

void register_log_softmax(OpRegistry& registry) {
  register_softmax_kind(
      registry, {.name = "log_softmax", .algorithm = dnnl::algorithm::softmax_log, .log = true});
}

}  // namespace loom
