#pragma once
// The header of NumPy's .npy format, versions 1.0, 2.0 and 3.0: the magic "\x93NUMPY", a
// version, the header's length (2 bytes in 1.0, 4 after), then a Python dict literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (60000, 28, 28), } padded with spaces to
// a newline. The C-order data follows. Parsed here by hand: nothing of Python is needed.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "engine/data/sample_array.hpp"

namespace loom {

struct NpyHeader {
  std::string descr;  // as written ("<f4"), for messages
  ElementType type = ElementType::uint8;
  bool big_endian = false;  // stored with '>': swapped to native order when read
  Shape shape;              // () for a scalar
  int64_t data_offset = 0;  // where the data starts, from the start of the .npy bytes
  int64_t data_bytes = 0;   // elements × element size, checked against overflow
};

// The most header bytes read: NumPy writes under 100, and refuses more than 10,000 by default.
inline constexpr int64_t kMaxNpyHeaderBytes = int64_t{1} << 20;

// Parses the header at the start of `bytes` (the first bytes of a .npy file or archive member;
// the data need not follow). InputError starting with `name`: not a .npy file, an unknown
// version, a truncated or malformed header, a dtype that is not a number (complex, object,
// string, structured, date), Fortran order, a shape whose size overflows.
NpyHeader parse_npy_header(std::span<const std::byte> bytes, const std::string& name);

// Checks that `total_bytes`, the size of the whole .npy, is exactly the header and the data
// it describes: shorter is truncated, longer has trailing bytes.
void check_npy_size(const NpyHeader& header, int64_t total_bytes, const std::string& name);

// A whole .npy file's bytes: its header parsed and its size checked against it.
NpyHeader parse_whole_npy(std::span<const std::byte> bytes, const std::string& name);

// "(60000, 28, 28)", "(5,)", "()": a shape as NumPy prints it.
std::string numpy_shape_text(const Shape& shape);

}  // namespace loom
