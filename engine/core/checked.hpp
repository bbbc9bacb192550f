#pragma once
// Checked integer arithmetic for sizes. Shapes, attributes and file headers come from the
// user, so a product of dimensions can wrap around 64 bits (2^62+1 × 784 is 784 again) or be
// absurdly large; every size the engine derives from them goes through these helpers, which
// refuse instead of wrapping, so no wrapped or astronomical size reaches an allocator or oneDNN.

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/core/error.hpp"

namespace loom {

// A size the engine refuses to compute with. It is bad input (exit code 2); code that knows
// where the size came from (a node, a config position) catches it and names the place.
class SizeError : public InputError {
 public:
  using InputError::InputError;
};

// The most elements one tensor may have: 2^40 floats are 4 TiB, beyond any machine this runs
// on, while products of such sizes still fit in 64 bits with room for byte counts.
inline constexpr int64_t kMaxElements = int64_t{1} << 40;
// The most a window attribute (kernel, stride, dilation) or a window's extent may be.
inline constexpr int64_t kMaxWindowExtent = (int64_t{1} << 31) - 1;

// a·b and a+b, or a SizeError saying that `what` overflows 64-bit integers.
inline int64_t checked_mul(int64_t a, int64_t b, std::string_view what) {
  int64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product)) {
    throw SizeError(std::string(what) + ": " + std::to_string(a) + " × " + std::to_string(b) +
                    " overflows 64-bit integers");
  }
  return product;
}

inline int64_t checked_add(int64_t a, int64_t b, std::string_view what) {
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    throw SizeError(std::string(what) + ": " + std::to_string(a) + " + " + std::to_string(b) +
                    " overflows 64-bit integers");
  }
  return sum;
}

// `value` itself, or a SizeError naming it when it lies outside [low, high].
inline int64_t checked_range(int64_t value, int64_t low, int64_t high, std::string_view what) {
  if (value < low || value > high) {
    throw SizeError(std::string(what) + " " + std::to_string(value) + " is out of range (" +
                    std::to_string(low) + " to " + std::to_string(high) + ")");
  }
  return value;
}

}  // namespace loom
