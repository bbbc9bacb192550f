#pragma once
// Reading a data file that may be gzip-compressed: zlib inflates gzip data and passes plain
// files through, so compression is detected from the content, not the name. Shared by the
// idx and CSV readers.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

struct gzFile_s;  // zlib's stream; its header stays out of this one

namespace loom {

class CompressedReader {
 public:
  // Opened as a regular file first (a FIFO or /dev/zero is refused, not read forever), then
  // handed to zlib, which closes the descriptor. InputError when it cannot be opened.
  explicit CompressedReader(const std::filesystem::path& file);
  ~CompressedReader();
  CompressedReader(const CompressedReader&) = delete;
  CompressedReader& operator=(const CompressedReader&) = delete;

  // Reads up to `size` bytes; fewer only at the end of the data. InputError on corrupt or
  // truncated gzip data.
  size_t read(void* into, size_t size);

  // The most bytes the file can still yield, known before any is read: a corrupt header
  // must not make the reader allocate gigabytes for data that is not there. Deflate expands
  // at most 1032-fold, so a gzip file bounds its payload too.
  int64_t max_remaining_bytes() const;

  // Counts (and discards) what is left, up to `limit` bytes: trailing data is an error
  // whatever its size, and a gzip bomb behind a small header must not be inflated in full.
  int64_t skip_rest(int64_t limit);

  bool compressed() const;
  // What a gzip file says it inflates to: its trailer's size field (the last member's size
  // modulo 4 GiB; exact for the usual single member under 4 GiB), or 0 when deflate could not
  // expand the file that much. A hint to size a buffer and refuse a bomb before inflating
  // it; zlib checks the field when the data ends.
  int64_t gzip_size_hint() const { return gzip_size_hint_; }
  int64_t file_bytes() const { return file_bytes_; }  // on disk, as opened

 private:
  void check_clean_end();

  std::string name_;
  int64_t file_bytes_ = 0;
  int64_t gzip_size_hint_ = 0;
  gzFile_s* stream_ = nullptr;
};

}  // namespace loom
