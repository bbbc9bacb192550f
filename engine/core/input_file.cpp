#include "engine/core/input_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "engine/core/error.hpp"

namespace loom {

namespace {

std::string size_text(int64_t bytes) {
  constexpr double kMiB = 1024.0 * 1024.0;
  char text[48];
  std::snprintf(text, sizeof text, "%.1f MiB", double(bytes) / kMiB);
  return text;
}

[[noreturn]] void refuse(std::string_view what, const std::string& name, const std::string& why) {
  throw InputError(std::string(what) + " " + name + ": " + why);
}

void expect_regular_mode(std::string_view what, const std::string& name, unsigned mode) {
  if (!S_ISREG(mode)) refuse(what, name, "is " + describe_file_kind(mode) + ", not a regular file");
}

}  // namespace

std::string describe_file_kind(unsigned mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISREG(mode)) return "a regular file";
  return "a special file";
}

void expect_regular_file(const std::filesystem::path& file, std::string_view what) {
  struct stat status {};
  if (::stat(file.c_str(), &status) != 0) {
    refuse(what, file.string(), errno == ENOENT ? "not found" : std::strerror(errno));
  }
  expect_regular_mode(what, file.string(), status.st_mode);
}

InputFile::InputFile(const std::filesystem::path& file, std::string_view what)
    : name_(file.string()), what_(what) {
  // O_NONBLOCK: opening a FIFO without a writer would otherwise wait forever. It changes
  // nothing for the regular files that pass the check below.
  descriptor_ = ::open(file.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (descriptor_ < 0) {
    refuse(
        what, name_,
        errno == ENOENT ? "not found" : "cannot open (" + std::string(std::strerror(errno)) + ")");
  }
  struct stat status {};
  if (::fstat(descriptor_, &status) != 0 || !S_ISREG(status.st_mode)) {
    const unsigned mode = status.st_mode;
    ::close(descriptor_);
    descriptor_ = -1;
    expect_regular_mode(what, name_, mode);
    refuse(what, name_, "cannot read its status");
  }
  size_ = int64_t(status.st_size);
  // Back to blocking reads: a regular file never blocks, but zlib and streams expect it.
  ::fcntl(descriptor_, F_SETFL, ::fcntl(descriptor_, F_GETFL) & ~O_NONBLOCK);
}

InputFile::~InputFile() {
  if (descriptor_ >= 0) ::close(descriptor_);
}

int InputFile::release() {
  const int descriptor = descriptor_;
  descriptor_ = -1;
  return descriptor;
}

std::string InputFile::read_all(int64_t max_bytes) {
  if (size_ > max_bytes) {
    refuse(what_, name_,
           "is " + size_text(size_) + ", more than the limit of " + size_text(max_bytes));
  }
  std::string text(size_t(size_), '\0');
  int64_t total = 0;
  while (total < size_) {
    const ssize_t count = ::read(descriptor_, text.data() + total, size_t(size_ - total));
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) refuse(what_, name_, "read failed (" + std::string(std::strerror(errno)) + ")");
    if (count == 0) refuse(what_, name_, "shrank while it was read");
    total += count;
  }
  char extra = 0;
  if (::read(descriptor_, &extra, 1) > 0) refuse(what_, name_, "grew while it was read");
  return text;
}

}  // namespace loom
