#pragma once
// Big-endian files (idx always, .npy with a '>' dtype) are converted once, when read, to the
// native order of this little-endian machine; samples are then read without conversions.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>

namespace loom {

static_assert(std::endian::native == std::endian::little, "the readers assume a little-endian CPU");

namespace detail {
template <typename T, typename Swap>
void swap_each(std::byte* data, int64_t count, Swap swap) {
  for (int64_t i = 0; i < count; ++i) {
    T value;
    std::memcpy(&value, data + i * int64_t(sizeof(T)), sizeof(T));
    value = swap(value);
    std::memcpy(data + i * int64_t(sizeof(T)), &value, sizeof(T));
  }
}
}  // namespace detail

// Reverses the bytes of each of `count` elements `width` bytes wide (1, 2, 4 or 8), in place.
inline void reverse_element_bytes(std::byte* data, int64_t count, int64_t width) {
  switch (width) {
    case 2:
      return detail::swap_each<uint16_t>(data, count,
                                         [](uint16_t v) { return __builtin_bswap16(v); });
    case 4:
      return detail::swap_each<uint32_t>(data, count,
                                         [](uint32_t v) { return __builtin_bswap32(v); });
    case 8:
      return detail::swap_each<uint64_t>(data, count,
                                         [](uint64_t v) { return __builtin_bswap64(v); });
    default:
      return;  // single bytes have no order
  }
}

}  // namespace loom
