#include "engine/data/compressed_reader.hpp"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include "engine/core/error.hpp"
#include "engine/core/input_file.hpp"

namespace loom {

namespace {
constexpr int64_t kMaxDeflateRatio = 1032;  // deflate's best: 258 bytes from 2 bits
}  // namespace

CompressedReader::CompressedReader(const std::filesystem::path& file) : name_(file.string()) {
  InputFile opened(file, "data file");
  file_bytes_ = opened.size();
  // The gzip trailer's last field, read with pread before zlib takes the descriptor (its
  // offset stays at the start). A size deflate cannot reach from this file is a lie: no hint.
  constexpr int64_t kSmallestGzip = 18, kSizeField = 4;
  if (uint8_t size[kSizeField];
      file_bytes_ >= kSmallestGzip &&
      pread(opened.descriptor(), size, kSizeField, file_bytes_ - kSizeField) == kSizeField) {
    const int64_t claimed =
        int64_t(size[0]) | int64_t(size[1]) << 8 | int64_t(size[2]) << 16 | int64_t(size[3]) << 24;
    if (claimed <= file_bytes_ * kMaxDeflateRatio) gzip_size_hint_ = claimed;
  }
  stream_ = gzdopen(opened.descriptor(), "rb");
  if (!stream_) throw InputError(name_ + ": cannot open (" + std::strerror(errno) + ")");
  opened.release();
  gzbuffer(stream_, 1 << 18);
}

CompressedReader::~CompressedReader() {
  gzclose(stream_);
}

size_t CompressedReader::read(void* into, size_t size) {
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

bool CompressedReader::compressed() const {
  return !gzdirect(stream_);
}

int64_t CompressedReader::max_remaining_bytes() const {
  if (gzdirect(stream_)) return std::max<int64_t>(0, file_bytes_ - gztell(stream_));
  return file_bytes_ * kMaxDeflateRatio;
}

int64_t CompressedReader::skip_rest(int64_t limit) {
  std::vector<uint8_t> chunk(1 << 16);
  int64_t total = 0;
  while (total < limit) {
    const size_t count = read(chunk.data(), size_t(std::min<int64_t>(limit - total, 1 << 16)));
    if (count == 0) break;
    total += int64_t(count);
  }
  return total;
}

// zlib reports a gzip stream cut short only as an early end of file: ask it.
void CompressedReader::check_clean_end() {
  int code = 0;
  gzerror(stream_, &code);
  if ((code != Z_OK && code != Z_STREAM_END) || (!gzdirect(stream_) && !gzeof(stream_))) {
    throw InputError(name_ + ": corrupt or truncated gzip data");
  }
}

}  // namespace loom
