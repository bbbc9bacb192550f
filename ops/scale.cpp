// scale: y = factor·x (oneDNN's eltwise_linear with alpha = factor, beta = 0); the gradient
// is factor·dy. Autodiff uses it to negate gradients (sub, div).

#include "ops/eltwise_common.hpp"

namespace loom {

void register_scale(OpRegistry& registry) {
  register_eltwise(registry,
                   {.name = "scale",
                    .algorithm = dnnl::algorithm::eltwise_linear,
                    .attributes = {{"factor", AttributeKind::real, "the multiplier"}},
                    .alpha = [](const Attributes& a) { return float(a.get_real("factor", 1.0)); },
                    .in_place = true});
}

}  // namespace loom
