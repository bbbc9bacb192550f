// tanh: y = tanh(x) = (e^x - e^-x) / (e^x + e^-x) (Keras's tanh; no parameters). The
// derivative 1 - y² is computed from the output (oneDNN's tanh "use dst for backward"
// variant), so only y must stay alive for the backward pass and x's buffer may be reused.

#include <cmath>

#include "ops/eltwise_common.hpp"

namespace loom {

void register_tanh(OpRegistry& registry) {
  register_eltwise(registry,
                   {.name = "tanh",
                    .algorithm = dnnl::algorithm::eltwise_tanh_use_dst_for_bwd,
                    .backward_reads_output = true,
                    .in_place = true,
                    .reference = [](double x, const Attributes&) { return std::tanh(x); }});
}

}  // namespace loom
