// elu: y = x if x > 0, alpha·(e^x - 1) otherwise (Keras's elu, alpha = 1.0 by default).
//
// The gradient is computed from the output (oneDNN's elu "use dst for backward" variant:
// dx = dy if y > 0, dy·(y + alpha) otherwise), so x's buffer may be reused. That needs
// alpha >= 0: with a negative alpha, y > 0 no longer tells which side of 0 x was on, and
// oneDNN refuses the primitive; the op rejects such an alpha when the graph is built.

#include <cmath>

#include "ops/eltwise_common.hpp"

namespace loom {

namespace {

// One reading of the attribute for the kernel and the reference, so their defaults agree.
double alpha_of(const Attributes& a) {
  const double alpha = a.get_real("alpha", 1.0);
  if (!(alpha >= 0)) {
    throw InputError("alpha must be >= 0, got " + std::to_string(alpha) +
                     " (the gradient is computed from the output)");
  }
  return alpha;
}

}  // namespace

void register_elu(OpRegistry& registry) {
  register_eltwise(
      registry,
      {.name = "elu",
       .algorithm = dnnl::algorithm::eltwise_elu_use_dst_for_bwd,
       .backward_reads_output = true,
       .attributes = {{"alpha", AttributeKind::real,
                       "scale of the negative part, >= 0 (default 1.0, as in Keras)"}},
       .alpha = [](const Attributes& a) { return float(alpha_of(a)); },
       .in_place = true,
       .reference = [](double x,
                       const Attributes& a) { return x > 0 ? x : alpha_of(a) * std::expm1(x); }});
}

}  // namespace loom
