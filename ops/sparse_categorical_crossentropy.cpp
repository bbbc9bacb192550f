// sparse_categorical_crossentropy(p, labels): categorical_crossentropy with the targets given
// as class indices (i32[B]) instead of one-hot rows, with Keras's renormalization, clipping
// and batch mean (crossentropy_common.hpp). On the loss path after a softmax the fusion pass
// replaces it with softmax_crossentropy.

#include <cmath>

#include "ops/crossentropy_common.hpp"

namespace loom {

namespace {

struct ClassIndexTargets {
  static constexpr std::string_view kName = "sparse_categorical_crossentropy";
  static constexpr bool kSparse = true;

  ClassIndexTargets(const void* data, int64_t /*classes*/)
      : labels(static_cast<const int32_t*>(data)) {}
  float operator()(int64_t b, int64_t c) const { return labels[b] == c ? 1.f : 0.f; }
  // The labels arrive as whole numbers in doubles.
  static double reference(std::span<const double> labels, int64_t, int64_t b, int64_t c) {
    return std::llround(labels[size_t(b)]) == c ? 1.0 : 0.0;
  }

  const int32_t* labels;
};

}  // namespace

void register_sparse_categorical_crossentropy(OpRegistry& registry) {
  register_probability_crossentropy<ClassIndexTargets>(registry);
}

}  // namespace loom
