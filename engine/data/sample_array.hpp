#pragma once
// A batch-major array of samples in the element type it was stored in: uint8 pixels stay one
// byte each (60,000 Fashion-MNIST images take 47 MB, not 188 MB as floats), a float64 CSV
// column stays exact, and a memory-mapped .npy file is read in place. Samples are converted
// to float only when a batch is gathered. Values are in native byte order (readers of
// big-endian formats convert once).

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "engine/core/tensor_type.hpp"

namespace loom {

// Every numeric element type NumPy and idx files store.
enum class ElementType : uint8_t {
  boolean,
  uint8,
  int8,
  uint16,
  int16,
  uint32,
  int32,
  uint64,
  int64,
  float16,
  float32,
  float64,
};

int64_t element_bytes(ElementType type);
std::string_view element_name(ElementType type);  // NumPy's names: "uint8", "float32", ...
bool is_integer(ElementType type);                // boolean counts as an integer (0 or 1)

class SampleArray {
 public:
  SampleArray() = default;
  // Owns `bytes`: whole samples of `sample_shape` in `type` (InputError-free: the caller has
  // checked the size; a mismatch is a logic error).
  static SampleArray owned(ElementType type, Shape sample_shape, std::vector<std::byte> bytes);
  // Views `count` samples at `data`, kept alive by `keeper` (a file mapping, a buffer).
  SampleArray(ElementType type, Shape sample_shape, int64_t count, const std::byte* data,
              std::shared_ptr<const void> keeper);

  ElementType type() const { return type_; }
  const Shape& sample_shape() const { return sample_shape_; }
  int64_t count() const { return count_; }
  int64_t sample_values() const { return sample_values_; }  // elements per sample
  int64_t sample_bytes() const { return sample_values_ * element_bytes(type_); }
  int64_t bytes() const { return count_ * sample_bytes(); }
  std::span<const std::byte> sample(int64_t index) const {
    return {data_ + index * sample_bytes(), size_t(sample_bytes())};
  }

  // Sample `index` as floats times `scale`, into out[0, sample_values()).
  void to_float(int64_t index, float scale, float* out) const;
  // One element as a double, exactly for every type but (u)int64 beyond 2^53.
  double value(int64_t index, int64_t element) const;
  // The first `count` samples, sharing this array's storage.
  SampleArray first(int64_t count) const;
  // The same bytes seen as samples of `shape` (same element count per sample).
  SampleArray reshaped(Shape shape) const;

 private:
  ElementType type_ = ElementType::uint8;
  Shape sample_shape_;
  int64_t count_ = 0;
  int64_t sample_values_ = 0;
  const std::byte* data_ = nullptr;
  std::shared_ptr<const void> keeper_;
};

// Converts `count` elements of `type` at `from` to floats times `scale` (float16 included).
void convert_to_float(ElementType type, const std::byte* from, int64_t count, float scale,
                      float* out);

}  // namespace loom
