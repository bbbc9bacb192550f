#pragma once
// Fuzz inputs as files: the readers under test take paths (zlib opens them itself), so each
// input is written to an anonymous in-memory file and read back through /proc/self/fd.

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace loom::fuzzing {

class MemoryFile {
 public:
  MemoryFile(const uint8_t* data, size_t size) : fd_(memfd_create("loom-fuzz", 0)) {
    size_t written = 0;
    while (fd_ >= 0 && written < size) {
      const ssize_t count = write(fd_, data + written, size - written);
      if (count <= 0) break;
      written += size_t(count);
    }
  }
  ~MemoryFile() {
    if (fd_ >= 0) close(fd_);
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  std::string path() const { return "/proc/self/fd/" + std::to_string(fd_); }

 private:
  int fd_;
};

}  // namespace loom::fuzzing
