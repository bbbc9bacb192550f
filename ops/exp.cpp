// exp: y = e^x (Keras's activation named "exponential"; keras.ops.exp; no parameters). The
// derivative is the output itself (dx = dy·y), computed from it through oneDNN's exp
// "use dst for backward" variant, so x's buffer may be reused.

#include <cmath>

#include "ops/eltwise_common.hpp"

namespace loom {

void register_exp(OpRegistry& registry) {
  register_eltwise(registry,
                   {.name = "exp",
                    .algorithm = dnnl::algorithm::eltwise_exp_use_dst_for_bwd,
                    .backward_reads_output = true,
                    .in_place = true,
                    .reference = [](double x, const Attributes&) { return std::exp(x); }});
}

}  // namespace loom
