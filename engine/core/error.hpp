#pragma once
// Errors carry where (a config position, a node, a file) and what was expected.
// The library throws; only tools/ turns an error into a message and an exit code.

#include <stdexcept>
#include <string>

namespace loom {

// Bad input from the user: a config, a data file, a flag. The trainer exits with 2.
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Something failed while running a well-formed job (oneDNN, I/O, numerics). Exit code 1.
class RuntimeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace loom
