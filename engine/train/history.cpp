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

void write_history_csv(const std::filesystem::path& file, std::span<const std::string> metric_names,
                       std::span<const EpochRecord> history) {
  std::string text = "epoch,loss";
  for (const std::string& name : metric_names) text += "," + name;
  text += ",test_loss";
  for (const std::string& name : metric_names) text += ",test_" + name;
  text += ",seconds,samples_per_second\n";
  char number[64];
  auto cell = [&](double value) {
    std::snprintf(number, sizeof number, ",%.6f", value);
    text += number;
  };
  for (const EpochRecord& r : history) {
    text += std::to_string(r.epoch);
    cell(r.loss);
    for (double value : r.metrics) cell(value);
    if (r.has_test) {
      cell(r.test_loss);
      for (double value : r.test_metrics) cell(value);
    } else {
      text += std::string(1 + metric_names.size(), ',');  // empty test columns
    }
    std::snprintf(number, sizeof number, ",%.3f,%.1f\n", r.seconds, r.samples_per_second);
    text += number;
  }
  write_file_atomically(file, text);
}

}  // namespace loom
