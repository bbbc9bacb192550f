#include "engine/data/idx.hpp"

#include <zlib.h>

#include <cstring>
#include <fstream>
#include <memory>

#include "engine/core/error.hpp"

namespace loom {

namespace {

constexpr uint8_t kUnsignedByte = 0x08;
constexpr int64_t kMaxBytes = int64_t{1} << 34;  // 16 GiB: larger is a corrupt header

// Reads the whole (possibly gzipped) file through zlib, which passes plain files through.
std::vector<uint8_t> read_all(const std::filesystem::path& file) {
  std::error_code error;
  if (!std::filesystem::is_regular_file(file, error)) {
    throw InputError(file.string() + ": file not found");
  }
  const std::unique_ptr<gzFile_s, decltype(&gzclose)> stream(gzopen(file.c_str(), "rb"), gzclose);
  if (!stream) throw InputError(file.string() + ": cannot open (" + std::strerror(errno) + ")");
  std::vector<uint8_t> bytes;
  std::vector<uint8_t> chunk(1 << 20);
  while (true) {
    const int count = gzread(stream.get(), chunk.data(), static_cast<unsigned>(chunk.size()));
    if (count < 0) {
      int code = 0;
      const char* message = gzerror(stream.get(), &code);
      throw InputError(file.string() + ": corrupt or truncated gzip data (" + message + ")");
    }
    if (count == 0) break;
    bytes.insert(bytes.end(), chunk.begin(), chunk.begin() + count);
  }
  // zlib reports a gzip stream cut short only as an end of file; ask it.
  int code = 0;
  gzerror(stream.get(), &code);
  if (code != Z_OK && code != Z_STREAM_END) {
    throw InputError(file.string() + ": corrupt or truncated gzip data");
  }
  if (!gzdirect(stream.get()) && !gzeof(stream.get())) {
    throw InputError(file.string() + ": truncated gzip data");
  }
  return bytes;
}

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

IdxArray read_idx(const std::filesystem::path& file) {
  const std::vector<uint8_t> bytes = read_all(file);
  const std::string name = file.string();
  if (bytes.size() < 4) {
    throw InputError(name + ": too short for an idx header (" + std::to_string(bytes.size()) +
                     " bytes)");
  }
  const uint32_t magic = big_endian_u32(bytes.data());
  const uint8_t rank = bytes[3];
  if (bytes[0] != 0 || bytes[1] != 0 || rank == 0) {
    throw InputError(name + ": not an idx file (magic number " + hex(magic) +
                     ", expected 0x000008NN)");
  }
  if (bytes[2] != kUnsignedByte) {
    char type[8];
    std::snprintf(type, sizeof type, "0x%02x", bytes[2]);
    throw InputError(name + ": idx element type " + type +
                     " is not supported (expected 0x08, unsigned bytes)");
  }
  const size_t header = 4 + 4 * size_t(rank);
  if (bytes.size() < header) {
    throw InputError(name + ": truncated idx header (rank " + std::to_string(rank) + " needs " +
                     std::to_string(header) + " bytes, the file has " +
                     std::to_string(bytes.size()) + ")");
  }
  IdxArray array;
  int64_t count = 1;
  for (size_t d = 0; d < rank; ++d) {
    const int64_t size = big_endian_u32(bytes.data() + 4 + 4 * d);
    if (size == 0) throw InputError(name + ": dimension " + std::to_string(d) + " is 0");
    array.dims.push_back(size);
    count *= size;
    if (count > kMaxBytes) throw InputError(name + ": idx dimensions are implausibly large");
  }
  const auto payload = static_cast<int64_t>(bytes.size() - header);
  if (payload < count) {
    throw InputError(name + ": truncated: the header promises " + std::to_string(count) +
                     " bytes of data, the file has " + std::to_string(payload));
  }
  if (payload > count) {
    throw InputError(name + ": " + std::to_string(payload - count) +
                     " unexpected bytes after the data the header describes");
  }
  array.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
  return array;
}

void write_idx(const std::filesystem::path& file, const IdxArray& array) {
  std::ofstream out(file, std::ios::binary);
  if (!out) throw RuntimeError(file.string() + ": cannot write");
  const uint8_t magic[4] = {0, 0, kUnsignedByte, static_cast<uint8_t>(array.dims.size())};
  out.write(reinterpret_cast<const char*>(magic), 4);
  for (int64_t dim : array.dims) {
    const uint8_t size[4] = {uint8_t(dim >> 24), uint8_t(dim >> 16), uint8_t(dim >> 8),
                             uint8_t(dim)};
    out.write(reinterpret_cast<const char*>(size), 4);
  }
  out.write(reinterpret_cast<const char*>(array.data.data()),
            static_cast<std::streamsize>(array.data.size()));
  if (!out) throw RuntimeError(file.string() + ": write failed");
}

}  // namespace loom
