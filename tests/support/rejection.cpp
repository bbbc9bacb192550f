#include "tests/support/rejection.hpp"

#include <gtest/gtest.h>

#include <algorithm>

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

std::string quoted(const std::string& text) {
  return "'" + text + "'";
}

}  // namespace loom::testing
