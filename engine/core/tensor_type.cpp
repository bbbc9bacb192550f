#include "engine/core/tensor_type.hpp"

#include <cstdio>

#include "engine/core/checked.hpp"

namespace loom {

namespace {

// "3.6e+21": the size a refused shape would have had, for the message.
std::string approximate_product(const Shape& shape) {
  long double product = 1;
  for (int64_t dim : shape) product *= static_cast<long double>(dim);
  char text[32];
  std::snprintf(text, sizeof text, "%.3Lg", product);
  return text;
}

}  // namespace

// Every element count goes through here, so a shape whose product wraps around 64 bits or
// exceeds kMaxElements is refused wherever it is first formed (a config's shape, an op's
// inferred output, an idx header) instead of becoming a small or negative size.
int64_t numel(const Shape& shape) {
  int64_t count = 1;
  bool overflowed = false;
  for (int64_t dim : shape) {
    if (dim < 0) {
      throw SizeError("shape " + to_string(shape) + " has a negative dimension");
    }
    overflowed = overflowed || __builtin_mul_overflow(count, dim, &count);
  }
  if (overflowed || count > kMaxElements) {
    throw SizeError("shape " + to_string(shape) + " has " +
                    (overflowed ? approximate_product(shape) : std::to_string(count)) +
                    " elements, more than the limit of 2^40 (" + std::to_string(kMaxElements) +
                    ")");
  }
  return count;
}

int64_t TensorType::numel() const {
  return loom::numel(shape);
}

// f32 and i32 are both 4 bytes; numel() <= 2^40, so the product cannot overflow.
int64_t TensorType::bytes() const {
  return numel() * 4;
}

std::string to_string(DType dtype) {
  return dtype == DType::f32 ? "f32" : "i32";
}

std::string to_string(const Shape& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(shape[i]);
  }
  return text + "]";
}

std::string to_string(const TensorType& type) {
  return to_string(type.dtype) + to_string(type.shape);
}

}  // namespace loom
