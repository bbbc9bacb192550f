// categorical_crossentropy(p, y) from probabilities, as Keras computes it: each row of p is
// renormalized to sum to 1, clipped to [1e-7, 1 - 1e-7], and the loss is the batch mean of
// -Σ y·log(p); y is one-hot rows (or any distribution over the classes). When p comes from a
// softmax, the fusion pass replaces both nodes with the stable softmax_crossentropy; this op
// serves predictions that are not a softmax. The formula and its gradient live in
// crossentropy_common.hpp, shared with the sparse variant.

#include "ops/crossentropy_common.hpp"

namespace loom {

namespace {

struct OneHotTargets {
  static constexpr std::string_view kName = "categorical_crossentropy";
  static constexpr bool kSparse = false;

  OneHotTargets(const void* data, int64_t class_count)
      : y(static_cast<const float*>(data)), classes(class_count) {}
  float operator()(int64_t b, int64_t c) const { return y[b * classes + c]; }
  static double reference(std::span<const double> y, int64_t classes, int64_t b, int64_t c) {
    return y[size_t(b * classes + c)];
  }

  const float* y;
  int64_t classes;
};

}  // namespace

void register_categorical_crossentropy(OpRegistry& registry) {
  register_probability_crossentropy<OneHotTargets>(registry);
}

}  // namespace loom
