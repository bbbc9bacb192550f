// softplus: y = log(1 + e^x) (Keras's softplus; no parameters). oneDNN's soft_relu. The
// gradient sigmoid(x) reads the input (oneDNN has no "use dst for backward" soft_relu; from y
// it would be 1 - e^-y, which loses precision where y is near 0).
//
// alpha: oneDNN 2.6 ignores it for soft_relu (tested: any alpha gives log(1 + e^x)); oneDNN 3
// computes log(1 + e^(alpha·x)) / alpha, where alpha = 0 would divide by zero. alpha = 1 is
// softplus under both.

#include <algorithm>
#include <cmath>

#include "ops/eltwise_common.hpp"

namespace loom {

void register_softplus(OpRegistry& registry) {
  register_eltwise(registry, {.name = "softplus",
                              .algorithm = dnnl::algorithm::eltwise_soft_relu,
                              .alpha = [](const Attributes&) { return 1.f; },
                              .in_place = true,
                              // log(1 + e^x) without overflowing e^x for a large x.
                              .reference =
                                  [](double x, const Attributes&) {
                                    return std::max(x, 0.0) + std::log1p(std::exp(-std::abs(x)));
                                  }});
}

}  // namespace loom
