#include "engine/data/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <memory>

#include "engine/core/error.hpp"

namespace loom {

namespace {

constexpr uint8_t kUnsignedByte = 0x08;
constexpr int64_t kMaxBytes = int64_t{1} << 34;  // 16 GiB: larger is a corrupt header

// Reads a file through zlib, which inflates gzip data and passes plain files through.
// The idx header says how large the payload is, so the payload is read straight into its
// final buffer: 47 MB of Fashion-MNIST images are never held twice.
class CompressedReader {
 public:
  explicit CompressedReader(const std::filesystem::path& file) : name_(file.string()) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(file, error))
      throw InputError(name_ + ": file not found");
    file_bytes_ = int64_t(std::filesystem::file_size(file, error));
    stream_ = gzopen(file.c_str(), "rb");
    if (!stream_) throw InputError(name_ + ": cannot open (" + std::strerror(errno) + ")");
    gzbuffer(stream_, 1 << 18);
  }
  ~CompressedReader() { gzclose(stream_); }
  CompressedReader(const CompressedReader&) = delete;
  CompressedReader& operator=(const CompressedReader&) = delete;

  // Reads up to `size` bytes; fewer only at the end of the data.
  size_t read(void* into, size_t size) {
    size_t total = 0;
    auto* bytes = static_cast<uint8_t*>(into);
    while (total < size) {
      const unsigned chunk = static_cast<unsigned>(std::min<size_t>(size - total, 1u << 30));
      const int count = gzread(stream_, bytes + total, chunk);
      if (count < 0) {
        int code = 0;
        throw InputError(name_ + ": corrupt or truncated gzip data (" + gzerror(stream_, &code) +
                         ")");
      }
      if (count == 0) break;
      total += static_cast<size_t>(count);
    }
    if (total < size) check_clean_end();
    return total;
  }

  // The most bytes the file can still yield, known before any is read: a corrupt header
  // must not make the reader allocate gigabytes for data that is not there. Deflate expands
  // at most 1032-fold, so a gzip file bounds its payload too.
  int64_t max_remaining_bytes() const {
    constexpr int64_t kMaxDeflateRatio = 1032;
    if (gzdirect(stream_)) return std::max<int64_t>(0, file_bytes_ - gztell(stream_));
    return file_bytes_ * kMaxDeflateRatio;
  }

  // Counts (and discards) what is left.
  int64_t skip_rest() {
    std::vector<uint8_t> chunk(1 << 16);
    int64_t total = 0;
    while (const size_t count = read(chunk.data(), chunk.size())) total += int64_t(count);
    return total;
  }

 private:
  // zlib reports a gzip stream cut short only as an early end of file: ask it.
  void check_clean_end() {
    int code = 0;
    gzerror(stream_, &code);
    if ((code != Z_OK && code != Z_STREAM_END) || (!gzdirect(stream_) && !gzeof(stream_))) {
      throw InputError(name_ + ": corrupt or truncated gzip data");
    }
  }

  std::string name_;
  int64_t file_bytes_ = 0;
  gzFile stream_ = nullptr;
};

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
  CompressedReader reader(file);
  const std::string name = file.string();
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
  if (magic_bytes[2] != kUnsignedByte) {
    char type[8];
    std::snprintf(type, sizeof type, "0x%02x", magic_bytes[2]);
    throw InputError(name + ": idx element type " + type +
                     " is not supported (expected 0x08, unsigned bytes)");
  }
  std::vector<uint8_t> dims(4 * size_t(rank));
  if (const size_t count = reader.read(dims.data(), dims.size()); count < dims.size()) {
    throw InputError(name + ": truncated idx header (rank " + std::to_string(rank) + " needs " +
                     std::to_string(4 + dims.size()) + " bytes, the file has " +
                     std::to_string(4 + count) + ")");
  }
  IdxArray array;
  int64_t count = 1;
  for (size_t d = 0; d < rank; ++d) {
    const int64_t size = big_endian_u32(dims.data() + 4 * d);
    if (size == 0) throw InputError(name + ": dimension " + std::to_string(d) + " is 0");
    array.dims.push_back(size);
    // Checked before multiplying: two 32-bit dimensions already overflow the product.
    if (size > kMaxBytes / count) throw InputError(name + ": idx dimensions are implausibly large");
    count *= size;
  }
  if (const int64_t available = reader.max_remaining_bytes(); count > available) {
    throw InputError(name + ": truncated: the header promises " + std::to_string(count) +
                     " bytes of data, the file can hold at most " + std::to_string(available));
  }
  array.data.resize(static_cast<size_t>(count));
  const size_t payload = reader.read(array.data.data(), array.data.size());
  if (payload < array.data.size()) {
    throw InputError(name + ": truncated: the header promises " + std::to_string(count) +
                     " bytes of data, the file has " + std::to_string(payload));
  }
  if (const int64_t trailing = reader.skip_rest(); trailing > 0) {
    throw InputError(name + ": " + std::to_string(trailing) +
                     " unexpected bytes after the data the header describes");
  }
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
