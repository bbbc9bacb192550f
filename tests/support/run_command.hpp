#pragma once
// Runs a command line through /bin/sh and captures what it printed and its exit code, so
// tests can check the trainer tool exactly as a user would see it.

#include <sys/types.h>

#include <string>
#include <vector>

namespace loom::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

CommandResult run_command(const std::string& command_line);

// Starts a program (arguments[0] is its path) without waiting for it, its stdout and stderr
// going to `log`; for tests that signal or kill a run. Fails the test if it cannot start.
pid_t spawn_process(const std::vector<std::string>& arguments, const std::string& log);

// The trainer binary built with the tests, and the source tree (for configs/).
std::string trainer_path();
std::string source_path(const std::string& relative);

// A fresh, empty directory under the system temp dir, removed by the destructor.
class TemporaryDirectory {
 public:
  TemporaryDirectory();
  ~TemporaryDirectory();
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace loom::testing
