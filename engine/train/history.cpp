#include "engine/train/history.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>
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
  // The rename itself lives in the directory: flush it too, or a power cut can bring back the
  // old name (a process crash cannot; the kernel already has the rename).
  const std::filesystem::path directory = file.has_parent_path() ? file.parent_path() : ".";
  if (const int directory_fd = ::open(directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      directory_fd >= 0) {
    ::fsync(directory_fd);
    ::close(directory_fd);
  }
}

void write_history_csv(const std::filesystem::path& file, std::span<const std::string> metric_names,
                       std::span<const EpochRecord> history) {
  const bool validation = !history.empty() && history.front().has_validation;
  std::string text = "epoch,loss";
  auto header = [&](const std::string& prefix) {
    text += "," + prefix + "loss";
    for (const std::string& name : metric_names) text += "," + prefix + name;
  };
  for (const std::string& name : metric_names) text += "," + name;
  if (validation) header("val_");
  header("test_");
  text += ",learning_rate,seconds,samples_per_second\n";
  char number[64];
  auto cells = [&](bool present, double loss, const std::vector<double>& metrics) {
    if (!present) {
      text += std::string(1 + metric_names.size(), ',');  // empty columns
      return;
    }
    std::snprintf(number, sizeof number, ",%.6f", loss);
    text += number;
    for (double value : metrics) {
      std::snprintf(number, sizeof number, ",%.6f", value);
      text += number;
    }
  };
  for (const EpochRecord& r : history) {
    text += std::to_string(r.epoch);
    std::snprintf(number, sizeof number, ",%.6f", r.loss);
    text += number;
    for (double value : r.metrics) {
      std::snprintf(number, sizeof number, ",%.6f", value);
      text += number;
    }
    if (validation) cells(r.has_validation, r.val_loss, r.val_metrics);
    cells(r.has_test, r.test_loss, r.test_metrics);
    text += ",";
    if (std::isfinite(r.learning_rate)) {
      std::snprintf(number, sizeof number, "%.9g", r.learning_rate);
      text += number;
    }
    std::snprintf(number, sizeof number, ",%.3f,%.1f\n", r.seconds, r.samples_per_second);
    text += number;
  }
  write_file_atomically(file, text);
}

std::string history_json(std::span<const std::string> metric_names,
                         std::span<const EpochRecord> history) {
  nlohmann::json epochs = nlohmann::json::array();
  for (const EpochRecord& record : history) {
    nlohmann::json row = {
        {"epoch", record.epoch},
        {"seconds", record.seconds},
        {"learning_rate", std::isfinite(record.learning_rate) ? nlohmann::json(record.learning_rate)
                                                              : nlohmann::json()},
        {"samples_per_second", record.samples_per_second}};
    for (const auto& [name, value] : named_values(record, metric_names)) row[name] = value;
    epochs.push_back(row);
  }
  return epochs.dump(2) + "\n";
}

}  // namespace loom
