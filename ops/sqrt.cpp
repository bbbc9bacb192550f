// sqrt: y = √x (keras.ops.sqrt; not a Keras activation; no parameters). NaN for x < 0. The
// derivative dx = dy / (2·y) is computed from the output (oneDNN's sqrt "use dst for backward"
// variant), so x's buffer may be reused.

#include <cmath>

#include "ops/eltwise_common.hpp"

namespace loom {

void register_sqrt(OpRegistry& registry) {
  register_eltwise(registry,
                   {.name = "sqrt",
                    .algorithm = dnnl::algorithm::eltwise_sqrt_use_dst_for_bwd,
                    .backward_reads_output = true,
                    .in_place = true,
                    .role = OpRole::other,
                    .reference = [](double x, const Attributes&) { return std::sqrt(x); }});
}

}  // namespace loom
