#pragma once
// Index arithmetic for the ops' double-precision reference forwards (Op::reference), which
// read and write plain row-major tensors over their logical shapes. Written to be read, not
// to be fast: the gradient checker runs them on small tensors.

#include <cstdint>
#include <vector>

#include "engine/core/tensor_type.hpp"

namespace loom {

// The element strides of a row-major tensor of `shape` (the last dimension's is 1).
inline std::vector<int64_t> row_major_strides(const Shape& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t d = shape.size(); d-- > 1;) strides[d - 1] = strides[d] * shape[d];
  return strides;
}

// The multi-index of element `flat` of a row-major tensor of `shape`.
inline std::vector<int64_t> unravel(int64_t flat, const Shape& shape) {
  std::vector<int64_t> index(shape.size(), 0);
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return index;
}

// Σ_d index[d]·strides[d]: where a multi-index lies in a tensor with those strides.
inline int64_t offset_of(const std::vector<int64_t>& index, const std::vector<int64_t>& strides) {
  int64_t offset = 0;
  for (size_t d = 0; d < index.size(); ++d) offset += index[d] * strides[d];
  return offset;
}

}  // namespace loom
