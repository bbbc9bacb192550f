// scale: y = factor·x (oneDNN's eltwise_linear with alpha = factor, beta = 0); the gradient
// is factor·dy. Autodiff uses it to negate gradients (sub, div).

#include "ops/eltwise_common.hpp"

namespace loom {

namespace {

// One reading of the attribute for the kernel and the reference, so their defaults agree.
double factor_of(const Attributes& a) {
  return a.get_real("factor", 1.0);
}

}  // namespace

void register_scale(OpRegistry& registry) {
  register_eltwise(registry,
                   {.name = "scale",
                    .algorithm = dnnl::algorithm::eltwise_linear,
                    .attributes = {{"factor", AttributeKind::real, "the multiplier"}},
                    .alpha = [](const Attributes& a) { return float(factor_of(a)); },
                    .in_place = true,
                    .role = OpRole::other,
                    .reference = [](double x, const Attributes& a) { return factor_of(a) * x; }});
}

}  // namespace loom
