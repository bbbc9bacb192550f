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

}  // namespace

int64_t element_bytes(ElementType type) {
  switch (type) {
    case ElementType::boolean:
    case ElementType::uint8:
    case ElementType::int8:
      return 1;
    case ElementType::uint16:
    case ElementType::int16:
    case ElementType::float16:
      return 2;
    case ElementType::uint32:
    case ElementType::int32:
    case ElementType::float32:
      return 4;
    case ElementType::uint64:
    case ElementType::int64:
    case ElementType::float64:
      return 8;
  }
  return 1;
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
  switch (type) {
    case ElementType::boolean:
    case ElementType::uint8:
      return convert<uint8_t>(from, count, scale, out);
    case ElementType::int8:
      return convert<int8_t>(from, count, scale, out);
    case ElementType::uint16:
      return convert<uint16_t>(from, count, scale, out);
    case ElementType::int16:
      return convert<int16_t>(from, count, scale, out);
    case ElementType::uint32:
      return convert<uint32_t>(from, count, scale, out);
    case ElementType::int32:
      return convert<int32_t>(from, count, scale, out);
    case ElementType::uint64:
      return convert<uint64_t>(from, count, scale, out);
    case ElementType::int64:
      return convert<int64_t>(from, count, scale, out);
    case ElementType::float32:
      return convert<float>(from, count, scale, out);
    case ElementType::float64:
      return convert<double>(from, count, scale, out);
    case ElementType::float16:
      for (int64_t i = 0; i < count; ++i) {
        uint16_t half;
        std::memcpy(&half, from + 2 * i, 2);
        out[i] = half_to_float(half) * scale;
      }
      return;
  }
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
  switch (type_) {
    case ElementType::boolean:
    case ElementType::uint8:
      return read_one<uint8_t>(at);
    case ElementType::int8:
      return read_one<int8_t>(at);
    case ElementType::uint16:
      return read_one<uint16_t>(at);
    case ElementType::int16:
      return read_one<int16_t>(at);
    case ElementType::uint32:
      return read_one<uint32_t>(at);
    case ElementType::int32:
      return read_one<int32_t>(at);
    case ElementType::uint64:
      return read_one<uint64_t>(at);
    case ElementType::int64:
      return read_one<int64_t>(at);
    case ElementType::float32:
      return read_one<float>(at);
    case ElementType::float64:
      return read_one<double>(at);
    case ElementType::float16: {
      float converted;
      convert_to_float(type_, at, 1, 1.f, &converted);
      return converted;
    }
  }
  return 0;
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
