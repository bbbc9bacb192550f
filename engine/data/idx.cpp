#include "engine/data/idx.hpp"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>

#include "engine/core/error.hpp"
#include "engine/core/memory.hpp"
#include "engine/data/byte_order.hpp"
#include "engine/data/compressed_reader.hpp"

namespace loom {

namespace {

// The format's type codes, in its own order.
struct IdxType {
  uint8_t code;
  ElementType type;
};
constexpr IdxType kIdxTypes[] = {
    {0x08, ElementType::uint8}, {0x09, ElementType::int8},    {0x0B, ElementType::int16},
    {0x0C, ElementType::int32}, {0x0D, ElementType::float32}, {0x0E, ElementType::float64},
};
constexpr int64_t kMaxBytes = int64_t{1} << 34;  // 16 GiB: larger is a corrupt header

uint32_t big_endian_u32(const uint8_t* bytes) {
  return uint32_t(bytes[0]) << 24 | uint32_t(bytes[1]) << 16 | uint32_t(bytes[2]) << 8 |
         uint32_t(bytes[3]);
}

std::string hex(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", value);
  return text;
}

}  // namespace

namespace {

constexpr int64_t kTrailingBytesReported = 1 << 16;  // counted exactly up to this many

// Reads and checks the header: the dimensions, and their product (the payload's size), which
// must be plausible, fit what the file can hold, and fit in memory, all before any allocation.
IdxHeader read_header(CompressedReader& reader, const std::string& name) {
  uint8_t magic_bytes[4];
  if (const size_t count = reader.read(magic_bytes, 4); count < 4) {
    throw InputError(name + ": too short for an idx header (" + std::to_string(count) + " bytes)");
  }
  const uint32_t magic = big_endian_u32(magic_bytes);
  const uint8_t rank = magic_bytes[3];
  if (magic_bytes[0] != 0 || magic_bytes[1] != 0 || rank == 0) {
    throw InputError(name + ": not an idx file (magic number " + hex(magic) +
                     ", expected 0x000008NN)");
  }
  const IdxType* type = std::ranges::find(kIdxTypes, magic_bytes[2], &IdxType::code);
  if (type == std::end(kIdxTypes)) {
    char code[8];
    std::snprintf(code, sizeof code, "0x%02x", magic_bytes[2]);
    throw InputError(name + ": idx element type " + code +
                     " is not one the format defines (0x08 uint8, 0x09 int8, 0x0b int16, "
                     "0x0c int32, 0x0d float32, 0x0e float64)");
  }
  std::vector<uint8_t> dims(4 * size_t(rank));
  if (const size_t count = reader.read(dims.data(), dims.size()); count < dims.size()) {
    throw InputError(name + ": truncated idx header (rank " + std::to_string(rank) + " needs " +
                     std::to_string(4 + dims.size()) + " bytes, the file has " +
                     std::to_string(4 + count) + ")");
  }
  IdxHeader header;
  header.type = type->type;
  header.bytes = element_bytes(header.type);
  for (size_t d = 0; d < rank; ++d) {
    const int64_t size = big_endian_u32(dims.data() + 4 * d);
    if (size == 0) throw InputError(name + ": dimension " + std::to_string(d) + " is 0");
    header.dims.push_back(size);
    // Checked before multiplying: two 32-bit dimensions already overflow the product.
    if (size > kMaxBytes / header.bytes) {
      throw InputError(name + ": idx dimensions are implausibly large");
    }
    header.bytes *= size;
  }
  if (const int64_t available = reader.max_remaining_bytes(); header.bytes > available) {
    throw InputError(name + ": truncated: the header promises " + std::to_string(header.bytes) +
                     " bytes of data, the file can hold at most " + std::to_string(available));
  }
  if (const int64_t memory = available_memory_bytes(); header.bytes > memory) {
    throw InputError(name + ": the header promises " + format_bytes(header.bytes) +
                     " of data; this machine has " + format_bytes(memory) + " available");
  }
  return header;
}

// Reads the payload in slices into a buffer reserved (not yet touched) for all of it, so a
// header that promises more than the file holds commits only the memory the data fills; then
// converts it to native byte order. `Byte` is uint8_t for IdxArray, std::byte for SampleArray.
template <typename Byte>
std::vector<Byte> read_payload(CompressedReader& reader, const std::string& name,
                               const IdxHeader& header) {
  constexpr int64_t kSlice = int64_t{1} << 24;
  const int64_t bytes = header.bytes;
  std::vector<Byte> data;
  data.reserve(static_cast<size_t>(bytes));
  while (std::ssize(data) < bytes) {
    const int64_t filled = std::ssize(data);
    const int64_t wanted = std::min(kSlice, bytes - filled);
    data.resize(static_cast<size_t>(filled + wanted));
    const size_t count = reader.read(data.data() + filled, static_cast<size_t>(wanted));
    if (int64_t(count) < wanted) {
      throw InputError(name + ": truncated: the header promises " + std::to_string(bytes) +
                       " bytes of data, the file has " + std::to_string(filled + int64_t(count)));
    }
  }
  if (const int64_t trailing = reader.skip_rest(kTrailingBytesReported); trailing > 0) {
    throw InputError(name + ": " + (trailing >= kTrailingBytesReported ? "at least " : "") +
                     std::to_string(trailing) +
                     " unexpected bytes after the data the header describes");
  }
  const int64_t width = element_bytes(header.type);
  reverse_element_bytes(reinterpret_cast<std::byte*>(data.data()), bytes / width, width);
  return data;
}

}  // namespace

IdxHeader read_idx_header(const std::filesystem::path& file) {
  CompressedReader reader(file);
  return read_header(reader, file.string());
}

IdxArray read_idx(const std::filesystem::path& file) {
  CompressedReader reader(file);
  const std::string name = file.string();
  IdxHeader header = read_header(reader, name);
  IdxArray array;
  array.data = read_payload<uint8_t>(reader, name, header);
  array.dims = std::move(header.dims);
  array.type = header.type;
  return array;
}

void write_idx(const std::filesystem::path& file, const IdxArray& array) {
  const IdxType* type = std::ranges::find(kIdxTypes, array.type, &IdxType::type);
  if (type == std::end(kIdxTypes)) {
    throw RuntimeError(file.string() + ": idx has no element type " +
                       std::string(element_name(array.type)));
  }
  std::ofstream out(file, std::ios::binary);
  if (!out) throw RuntimeError(file.string() + ": cannot write");
  const uint8_t magic[4] = {0, 0, type->code, static_cast<uint8_t>(array.dims.size())};
  out.write(reinterpret_cast<const char*>(magic), 4);
  for (int64_t dim : array.dims) {
    const uint8_t size[4] = {uint8_t(dim >> 24), uint8_t(dim >> 16), uint8_t(dim >> 8),
                             uint8_t(dim)};
    out.write(reinterpret_cast<const char*>(size), 4);
  }
  std::vector<uint8_t> big_endian = array.data;
  const int64_t width = element_bytes(array.type);
  reverse_element_bytes(reinterpret_cast<std::byte*>(big_endian.data()),
                        std::ssize(big_endian) / width, width);
  out.write(reinterpret_cast<const char*>(big_endian.data()),
            static_cast<std::streamsize>(big_endian.size()));
  if (!out) throw RuntimeError(file.string() + ": write failed");
}

SampleArray read_idx_samples(const std::filesystem::path& file) {
  CompressedReader reader(file);
  const std::string name = file.string();
  const IdxHeader header = read_header(reader, name);
  std::vector<std::byte> data = read_payload<std::byte>(reader, name, header);
  return SampleArray::owned(header.type, Shape(header.dims.begin() + 1, header.dims.end()),
                            std::move(data));
}

}  // namespace loom
