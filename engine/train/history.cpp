#include "engine/train/history.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "engine/core/error.hpp"

namespace loom {

void write_file_atomically(const std::filesystem::path& file, const std::string& text) {
  const std::filesystem::path temporary = file.string() + ".tmp";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    throw RuntimeError(temporary.string() + ": cannot write (" + std::strerror(errno) + ")");
  }
  size_t written = 0;
  while (written < text.size()) {
    const ssize_t count = ::write(fd, text.data() + written, text.size() - written);
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) {
      const std::string reason = std::strerror(errno);
      ::close(fd);
      std::filesystem::remove(temporary);
      throw RuntimeError(temporary.string() + ": write failed (" + reason + ")");
    }
    written += static_cast<size_t>(count);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    std::filesystem::remove(temporary);
    throw RuntimeError(temporary.string() + ": cannot flush to disk (" + std::strerror(errno) +
                       ")");
  }
  std::filesystem::rename(temporary, file);
}

void write_history_csv(const std::filesystem::path& file, std::span<const EpochRecord> history) {
  std::string text = "epoch,loss,accuracy,test_loss,test_accuracy,seconds,samples_per_second\n";
  char line[256];
  for (const EpochRecord& r : history) {
    if (r.has_test) {
      std::snprintf(line, sizeof line, "%lld,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f\n",
                    static_cast<long long>(r.epoch), r.loss, r.accuracy, r.test_loss,
                    r.test_accuracy, r.seconds, r.samples_per_second);
    } else {
      std::snprintf(line, sizeof line, "%lld,%.6f,%.6f,,,%.3f,%.1f\n",
                    static_cast<long long>(r.epoch), r.loss, r.accuracy, r.seconds,
                    r.samples_per_second);
    }
    text += line;
  }
  write_file_atomically(file, text);
}

}  // namespace loom
