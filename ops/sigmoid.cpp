// sigmoid: y = 1 / (1 + exp(-x)) (Keras's sigmoid). The derivative y·(1 - y) is computed from
// the output (oneDNN's logistic "use dst for backward" variant).

#include <cmath>

#include "ops/eltwise_common.hpp"

namespace loom {

void register_sigmoid(OpRegistry& registry) {
  register_eltwise(
      registry, {.name = "sigmoid",
                 .algorithm = dnnl::algorithm::eltwise_logistic_use_dst_for_bwd,
                 .backward_reads_output = true,
                 .in_place = true,
                 .reference = [](double x, const Attributes&) { return 1 / (1 + std::exp(-x)); }});
}

}  // namespace loom
