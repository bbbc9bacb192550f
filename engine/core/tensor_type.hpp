#pragma once
// Static tensor types: every value in a graph has a dtype and a fully known shape.

#include <cstdint>
#include <string>
#include <vector>

namespace loom {

enum class DType { f32, i32 };

using Shape = std::vector<int64_t>;

struct TensorType {
  DType dtype = DType::f32;
  Shape shape;

  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  int64_t numel() const;
  int64_t bytes() const;
  bool operator==(const TensorType&) const = default;
};

std::string to_string(DType dtype);
std::string to_string(const Shape& shape);      // "[32, 784]"
std::string to_string(const TensorType& type);  // "f32[32, 784]"
int64_t numel(const Shape& shape);

}  // namespace loom
