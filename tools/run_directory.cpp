#include "tools/run_directory.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <vector>

#include "engine/core/error.hpp"

namespace fs = std::filesystem;

namespace loom {

namespace {

constexpr const char* kLockFile = ".lock";
constexpr size_t kMaxNameInDirectory = 64;

std::string safe_name(const std::string& name) {
  std::string safe;
  for (const char c : name) {
    if (safe.size() == kMaxNameInDirectory) break;
    const bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                       c == '_' || c == '-' || c == '.';
    if (safe.empty() && c == '.') continue;  // no hidden directories, no '..'
    safe += plain ? c : '_';
  }
  return safe.empty() ? "run" : safe;
}

std::string holder_pid(int descriptor) {
  char text[32] = {};
  const ssize_t count = ::pread(descriptor, text, sizeof text - 1, 0);
  std::string pid(text, size_t(std::max<ssize_t>(count, 0)));
  while (!pid.empty() && (pid.back() == '\n' || pid.back() == ' ')) pid.pop_back();
  return pid.empty() ? "unknown" : pid;
}

// A generated directory is created here, atomically: another trainer started in the same
// second with the same name gets the next suffix instead of sharing it.
void create_fresh(fs::path& directory) {
  fs::create_directories(directory.parent_path().empty() ? "." : directory.parent_path());
  const fs::path base = directory;
  for (int suffix = 2; !fs::create_directory(directory); ++suffix) {
    if (suffix > 1000) throw InputError(base.string() + ": cannot find a free run directory name");
    directory = base.string() + "-" + std::to_string(suffix);
  }
}

}  // namespace

fs::path default_run_directory(const std::string& name) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::tm local{};
  localtime_r(&now, &local);
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &local);
  return fs::path("runs") / (safe_name(name) + "-" + stamp);
}

void expect_new_run_directory(const fs::path& directory, bool overwrite, const std::string& flag) {
  std::error_code error;
  const fs::file_status status = fs::status(directory, error);
  if (!fs::exists(status)) return;
  if (!fs::is_directory(status)) {
    throw InputError(flag + " " + directory.string() + ": exists and is not a directory");
  }
  std::vector<std::string> found;
  for (const fs::directory_entry& entry : fs::directory_iterator(directory)) {
    if (entry.path().filename() != kLockFile) found.push_back(entry.path().filename().string());
  }
  if (found.empty() || overwrite) return;
  std::string listed;
  for (size_t i = 0; i < found.size() && i < 3; ++i) listed += (i ? ", " : "") + found[i];
  if (found.size() > 3) listed += ", ...";
  throw InputError(flag + " " + directory.string() + ": the directory is not empty (" + listed +
                   "); continue that run with --resume " + directory.string() +
                   ", choose another directory, or add --overwrite to replace its run files");
}

RunDirectoryLock RunDirectoryLock::acquire(fs::path& directory, bool generated) {
  if (generated) {
    create_fresh(directory);
  } else {
    fs::create_directories(directory);
  }
  const fs::path file = directory / kLockFile;
  const int descriptor = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (descriptor < 0) {
    throw RuntimeError(file.string() + ": cannot create the lock file (" + std::strerror(errno) +
                       ")");
  }
  if (::flock(descriptor, LOCK_EX | LOCK_NB) != 0) {
    const std::string pid = holder_pid(descriptor);
    ::close(descriptor);
    throw InputError(directory.string() + ": the run directory is in use by another trainer (pid " +
                     pid + ")");
  }
  // Without the pid the lock holds all the same; a second trainer then names "unknown".
  const std::string pid = std::to_string(::getpid()) + "\n";
  const bool pid_written = ::ftruncate(descriptor, 0) == 0 &&
                           ::pwrite(descriptor, pid.data(), pid.size(), 0) == ssize_t(pid.size());
  static_cast<void>(pid_written);
  return RunDirectoryLock(descriptor);
}

RunDirectoryLock::RunDirectoryLock(RunDirectoryLock&& other) noexcept
    : descriptor_(other.descriptor_) {
  other.descriptor_ = -1;
}

RunDirectoryLock::~RunDirectoryLock() {
  if (descriptor_ >= 0) ::close(descriptor_);
}

void remove_run_files(const fs::path& directory) {
  for (const char* file : kRunFiles) fs::remove(directory / file);
}

}  // namespace loom
