#pragma once
// Opening the user's files safely. A path in a config or a flag may name anything: a FIFO
// (opening it blocks until a writer comes), a directory, /dev/zero or /dev/urandom (reading
// never ends), a file that grows while it is read. Every input file is opened here: without
// blocking, then checked to be a regular file on the descriptor actually opened (no window in
// which the path can be swapped), and read with a bound.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace loom {

// An open regular file. `what` names it in errors ("config file", "data file", ...).
class InputFile {
 public:
  // InputError naming the file when it is missing, unreadable or not a regular file.
  InputFile(const std::filesystem::path& file, std::string_view what);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  int descriptor() const { return descriptor_; }
  int64_t size() const { return size_; }  // at the time it was opened
  // Gives the descriptor up (to a reader that closes it, such as zlib's gzdopen).
  int release();

  // The whole file, refused (InputError with both figures) when larger than `max_bytes`.
  // Reads no more than it found at open: a file that grows meanwhile is an error too.
  std::string read_all(int64_t max_bytes);

 private:
  std::string name_;
  std::string what_;
  int descriptor_ = -1;
  int64_t size_ = 0;
};

// What a path is, for messages: "a directory", "a FIFO", "a character device", ...
std::string describe_file_kind(unsigned mode);

// Checks without opening: the path names a regular file (following symbolic links).
// InputError "<what> <path>: not found" or "...: is a directory, not a regular file".
void expect_regular_file(const std::filesystem::path& file, std::string_view what);

}  // namespace loom
