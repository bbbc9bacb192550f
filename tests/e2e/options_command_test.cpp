// `trainer options`: the listing comes from the schemas the config reads, so every default it
// prints is the one a config gets, and a name it does not know is one line and exit code 2.

#include <gtest/gtest.h>

#include <string>

#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

TEST(OptionsCommand, ListsEveryOptimizerWithItsDefaults) {
  const CommandResult result = run_command(trainer_path() + " options");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* name : {"  rmsprop\n", "  adam\n", "  cosine_decay\n", "  early_stopping\n",
                           "  top_k_accuracy\n"}) {
    EXPECT_NE(result.out.find(name), std::string::npos) << name;
  }
}

TEST(OptionsCommand, OneNameShowsItsOptionsOnly) {
  const CommandResult result = run_command(trainer_path() + " options rmsprop");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("rho              number   0.9"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("epsilon          number   1e-07"), std::string::npos) << result.out;
  EXPECT_EQ(result.out.find("  adam\n"), std::string::npos) << result.out;
}

TEST(OptionsCommand, AnUnknownNameIsOneLineAndExitCode2) {
  const CommandResult result = run_command(trainer_path() + " options rmsprob");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_EQ(result.err.find(
                "error: unknown optimizer, schedule, metric, callback or plugin layer 'rmsprob'"),
            0u)
      << result.err;
  EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << result.err;
}

TEST(OptionsCommand, AControlCharacterInTheNameKeepsTheErrorOnOneLine) {
  const CommandResult result = run_command(trainer_path() + " options \"$(printf 'a\\nb\\tc')\"");
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("'a\\nb\\tc'"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find('\n'), result.err.size() - 1) << result.err;
}

}  // namespace
}  // namespace loom::testing
