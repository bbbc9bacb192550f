#pragma once
// A whole input file mapped read-only into memory. Pages are read on first touch and, being
// clean file pages, dropped by the kernel under memory pressure and read again when needed:
// a file larger than memory can be read through its mapping, and none of it counts against
// the process's data limit (RLIMIT_DATA) or needs an allocation.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string_view>

namespace loom {

class MappedFile {
 public:
  // What the caller will read: all of it (a data set), or only headers (a size estimate).
  enum class Use { whole, headers };

  // Opens `file` through InputFile (regular files only; `what` names it in errors) and maps
  // it. For Use::whole the kernel is asked to read ahead the whole file when it fits
  // comfortably in the memory available; otherwise pages are read as they are touched.
  static std::shared_ptr<const MappedFile> open(const std::filesystem::path& file,
                                                std::string_view what, Use use = Use::whole);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  int64_t size() const { return size_; }
  std::span<const std::byte> bytes() const { return {data_, size_t(size_)}; }

 private:
  MappedFile(const std::byte* data, int64_t size) : data_(data), size_(size) {}
  const std::byte* data_ = nullptr;  // null for an empty file (nothing is mapped)
  int64_t size_ = 0;
};

}  // namespace loom
