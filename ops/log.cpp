// log: y = ln(x), the natural logarithm (keras.ops.log; not a Keras activation; no
// parameters). NaN for x < 0 and -inf at 0, as in Keras. The gradient dx = dy / x reads the
// input: oneDNN has no "use dst for backward" log (from y it would be dy·e^-y). The forward
// pass is the C library's logf, not oneDNN's approximation (eltwise_common.hpp says why).

#include <cmath>

#include "ops/eltwise_common.hpp"

namespace loom {

void register_log(OpRegistry& registry) {
  register_eltwise(registry,
                   {.name = "log",
                    .algorithm = dnnl::algorithm::eltwise_log,
                    .in_place = true,
                    .role = OpRole::other,
                    .exact_forward = [](float x) { return std::log(x); },
                    .reference = [](double x, const Attributes&) { return std::log(x); }});
}

}  // namespace loom
