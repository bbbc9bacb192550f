#include "engine/data/sample_array.hpp"

#include <bit>
#include <cassert>
#include <cstring>

namespace loom {

namespace {

// IEEE 754 binary16 to binary32, subnormals, infinities and NaNs included.
float half_to_float(uint16_t half) {
  const uint32_t sign = uint32_t(half & 0x8000u) << 16;
  const uint32_t exponent = (half >> 10) & 0x1fu;
  uint32_t mantissa = half & 0x3ffu;
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  if (exponent != 0) {
    return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
  }
  if (mantissa == 0) return std::bit_cast<float>(sign);
  // Subnormal: normalize the mantissa (value = mantissa · 2^-24).
  int shift = 0;
  while ((mantissa & 0x400u) == 0) {
    mantissa <<= 1;
    ++shift;
  }
  return std::bit_cast<float>(sign | uint32_t(113 - shift) << 23 | ((mantissa & 0x3ffu) << 13));
}

template <typename T>
void convert(const std::byte* from, int64_t count, float scale, float* out) {
  // memcpy per element: mapped files give no alignment guarantee beyond the header's.
#pragma omp simd
  for (int64_t i = 0; i < count; ++i) {
    T value;
    std::memcpy(&value, from + i * int64_t(sizeof(T)), sizeof(T));
    out[i] = float(value) * scale;
  }
}

template <typename T>
double read_one(const std::byte* at) {
  T value;
  std::memcpy(&value, at, sizeof(T));
  return double(value);
}

// A float16 as stored: its bits, converted when read.
struct Half {
  uint16_t bits;
  explicit operator float() const { return half_to_float(bits); }
  explicit operator double() const { return half_to_float(bits); }
};
static_assert(sizeof(Half) == 2);

// Calls `f` with a value of the C++ type an element of `type` is stored as: the one switch
// over element types that sizes, conversions and reads share.
template <typename F>
decltype(auto) with_stored_type(ElementType type, F&& f) {
  switch (type) {
    case ElementType::boolean:
    case ElementType::uint8:
      return f(uint8_t{});
    case ElementType::int8:
      return f(int8_t{});
    case ElementType::uint16:
      return f(uint16_t{});
    case ElementType::int16:
      return f(int16_t{});
    case ElementType::uint32:
      return f(uint32_t{});
    case ElementType::int32:
      return f(int32_t{});
    case ElementType::uint64:
      return f(uint64_t{});
    case ElementType::int64:
      return f(int64_t{});
    case ElementType::float16:
      return f(Half{});
    case ElementType::float32:
      return f(float{});
    case ElementType::float64:
      return f(double{});
  }
  return f(uint8_t{});
}

}  // namespace

int64_t element_bytes(ElementType type) {
  return with_stored_type(type, [](auto stored) { return int64_t(sizeof stored); });
}

std::string_view element_name(ElementType type) {
  switch (type) {
    case ElementType::boolean:
      return "bool";
    case ElementType::uint8:
      return "uint8";
    case ElementType::int8:
      return "int8";
    case ElementType::uint16:
      return "uint16";
    case ElementType::int16:
      return "int16";
    case ElementType::uint32:
      return "uint32";
    case ElementType::int32:
      return "int32";
    case ElementType::uint64:
      return "uint64";
    case ElementType::int64:
      return "int64";
    case ElementType::float16:
      return "float16";
    case ElementType::float32:
      return "float32";
    case ElementType::float64:
      return "float64";
  }
  return "?";
}

bool is_integer(ElementType type) {
  return type != ElementType::float16 && type != ElementType::float32 &&
         type != ElementType::float64;
}

void convert_to_float(ElementType type, const std::byte* from, int64_t count, float scale,
                      float* out) {
  with_stored_type(type, [&](auto stored) { convert<decltype(stored)>(from, count, scale, out); });
}

SampleArray SampleArray::owned(ElementType type, Shape sample_shape, std::vector<std::byte> bytes) {
  auto storage = std::make_shared<const std::vector<std::byte>>(std::move(bytes));
  const int64_t sample_bytes = numel(sample_shape) * element_bytes(type);
  assert(sample_bytes > 0 && std::ssize(*storage) % sample_bytes == 0);
  const int64_t count = std::ssize(*storage) / sample_bytes;
  const std::byte* data = storage->data();
  return SampleArray(type, std::move(sample_shape), count, data, std::move(storage));
}

SampleArray::SampleArray(ElementType type, Shape sample_shape, int64_t count, const std::byte* data,
                         std::shared_ptr<const void> keeper)
    : type_(type),
      sample_shape_(std::move(sample_shape)),
      count_(count),
      sample_values_(numel(sample_shape_)),
      data_(data),
      keeper_(std::move(keeper)) {}

void SampleArray::to_float(int64_t index, float scale, float* out) const {
  convert_to_float(type_, sample(index).data(), sample_values_, scale, out);
}

double SampleArray::value(int64_t index, int64_t element) const {
  const std::byte* at = data_ + index * sample_bytes() + element * element_bytes(type_);
  return with_stored_type(type_, [&](auto stored) { return read_one<decltype(stored)>(at); });
}

SampleArray SampleArray::first(int64_t count) const {
  SampleArray view = *this;
  view.count_ = std::min(count, count_);
  return view;
}

SampleArray SampleArray::reshaped(Shape shape) const {
  assert(numel(shape) == sample_values_);
  SampleArray view = *this;
  view.sample_shape_ = std::move(shape);
  return view;
}

}  // namespace loom
