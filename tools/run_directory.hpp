#pragma once
// Where a training run writes, and who may write there.
//
// A run directory belongs to one run: a new run refuses a directory that already holds
// files (unless told to --overwrite them), and a trainer holds an exclusive lock on the
// directory (flock on RUN_DIR/.lock, which holds its pid) from before its first write to its
// exit, so a second trainer on the same directory, new or resuming, stops with one line naming
// the holder. The kernel releases the lock when the process ends, however it ends.
// Generated directories (runs/<name>-<time>) stay inside runs/ whatever the config's name is.

#include <filesystem>
#include <string>

namespace loom {

// The run files a trainer writes (and --overwrite replaces).
inline constexpr const char* kRunFiles[] = {"config.yaml", "history.csv",      "history.json",
                                            "train.log",   "last.safetensors", "best.safetensors",
                                            "report.html"};

// runs/<name>-<YYYYmmdd-HHMMSS>: the name reduced to letters, digits, '.', '_' and '-' (no
// path separators, no leading dot, at most 64 characters). Not created.
std::filesystem::path default_run_directory(const std::string& name);

// A new run may write into `directory` only when it does not exist or is empty (a lock file
// alone counts as empty). Otherwise InputError, unless `overwrite`.
void expect_new_run_directory(const std::filesystem::path& directory, bool overwrite,
                              const std::string& flag);

class RunDirectoryLock {
 public:
  // Creates the directory (for a generated one: a fresh one, with a -2, -3... suffix when
  // another run took the name in the same second) and locks it. InputError when another
  // process holds the lock.
  static RunDirectoryLock acquire(std::filesystem::path& directory, bool generated);
  RunDirectoryLock(RunDirectoryLock&& other) noexcept;
  RunDirectoryLock& operator=(RunDirectoryLock&&) = delete;
  ~RunDirectoryLock();

 private:
  explicit RunDirectoryLock(int descriptor) : descriptor_(descriptor) {}
  int descriptor_ = -1;
};

// Removes the run files of kRunFiles (and nothing else) from `directory`.
void remove_run_files(const std::filesystem::path& directory);

}  // namespace loom
