// relu: y = max(x, 0) (Keras's relu). Its gradient reads the output, not the input
// (dx = dy where y > 0), through oneDNN's "use dst for backward" variant: the input can then
// be overwritten or fused away (fused_matmul), and only y must stay alive for the backward
// pass.

#include "ops/eltwise_common.hpp"

namespace loom {

void register_relu(OpRegistry& registry) {
  register_eltwise(registry,
                   {.name = "relu",
                    .algorithm = dnnl::algorithm::eltwise_relu_use_dst_for_bwd,
                    .backward_reads_output = true,
                    .in_place = true,
                    .reference = [](double x, const Attributes&) { return x > 0 ? x : 0.0; }});
}

}  // namespace loom
