#include "tests/support/rejection.hpp"

#include <gtest/gtest.h>

#include <algorithm>

#include "engine/core/error.hpp"

namespace loom::testing {

namespace {

size_t count_lines(const std::string& text) {
  return static_cast<size_t>(std::ranges::count(text, '\n'));
}

}  // namespace

bool expect_one_error_line(const CommandResult& result) {
  EXPECT_EQ(result.exit_code, 2) << "stderr:\n" << result.err << "stdout:\n" << result.out;
  if (result.exit_code == 0) return false;
  EXPECT_EQ(count_lines(result.err), 1u) << "stderr:\n" << result.err;
  EXPECT_TRUE(result.err.ends_with("\n"));
  EXPECT_TRUE(result.err.starts_with("error: ")) << "stderr:\n" << result.err;
  return true;
}

void expect_input_error(const std::function<void()>& action,
                        std::initializer_list<std::string> parts) {
  try {
    action();
    ADD_FAILURE() << "no InputError was thrown";
  } catch (const InputError& error) {
    const std::string message = error.what();
    for (const std::string& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos)
          << "expected '" << part << "' in: " << message;
    }
  } catch (const std::exception& error) {
    ADD_FAILURE() << "expected an InputError, got another exception: " << error.what();
  }
}

std::string quoted(const std::string& text) {
  return "'" + text + "'";
}

}  // namespace loom::testing
