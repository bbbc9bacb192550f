#include "engine/core/tensor_type.hpp"

namespace loom {

int64_t numel(const Shape& shape) {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

int64_t TensorType::numel() const {
  return loom::numel(shape);
}

int64_t TensorType::bytes() const {
  return numel() * 4;
}  // f32 and i32 are both 4 bytes

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
