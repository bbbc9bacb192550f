#pragma once
// The contract for any bad input a user can give the trainer (a config, a data file, a
// checkpoint): exit code 2 and exactly one line on stderr, "error: ...".

#include <functional>
#include <initializer_list>
#include <string>

#include "tests/support/run_command.hpp"

namespace loom::testing {

// Checks the contract. Returns false when the command was not rejected at all, so callers can
// stop there instead of reporting every later check against a training log.
bool expect_one_error_line(const CommandResult& result);

// In-process: runs `action`, which must throw InputError mentioning every one of `parts`.
void expect_input_error(const std::function<void()>& action,
                        std::initializer_list<std::string> parts);

// 'text', for messages that quote names.
std::string quoted(const std::string& text);

}  // namespace loom::testing
