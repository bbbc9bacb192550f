#include "engine/core/mapped_file.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "engine/core/error.hpp"
#include "engine/core/input_file.hpp"
#include "engine/core/memory.hpp"

namespace loom {

std::shared_ptr<const MappedFile> MappedFile::open(const std::filesystem::path& file,
                                                   std::string_view what, Use use) {
  InputFile opened(file, what);
  const int64_t size = opened.size();
  // mmap refuses a length of 0; an empty file simply has no bytes.
  if (size == 0) return std::shared_ptr<const MappedFile>(new MappedFile(nullptr, 0));
  // MAP_PRIVATE: a later write to the file by another process may or may not show through,
  // but nothing this process does can change the file. The mapping outlives the descriptor.
  void* address = ::mmap(nullptr, size_t(size), PROT_READ, MAP_PRIVATE, opened.descriptor(), 0);
  if (address == MAP_FAILED) {
    throw InputError(std::string(what) + " " + file.string() + ": cannot map it into memory (" +
                     std::strerror(errno) + ")");
  }
  // Read ahead in the background when the file fits in half the memory available (a training
  // set then costs one sequential read); otherwise the kernel's default of reading around each
  // touched page suits batches gathered from anywhere in the file.
  if (use == Use::whole && size <= available_memory_bytes() / 2)
    ::madvise(address, size_t(size), MADV_WILLNEED);
  return std::shared_ptr<const MappedFile>(
      new MappedFile(static_cast<const std::byte*>(address), size));
}

MappedFile::~MappedFile() {
  if (data_) ::munmap(const_cast<std::byte*>(data_), size_t(size_));
}

}  // namespace loom
