// examples/custom_op: the PReLU plugin builds on its own from the documented CMake lines,
// loads, passes the gradient check for both its inputs, and trains the example config.

#include <gtest/gtest.h>

#include "engine/plugin/load_plugin.hpp"
#include "tests/support/op_harness.hpp"
#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

TEST(CustomOp, BuildsStandaloneWithTheDocumentedCommands) {
  TemporaryDirectory directory;
  const std::string build = directory.file("prelu");
  const CommandResult configure = run_command("cmake -S " + source_path("examples/custom_op") +
                                              " -B " + build + " -DLOOM_ROOT=" + source_path("") +
                                              " -DLOOM_BUILD=" + std::string(LOOM_BUILD_DIR));
  ASSERT_EQ(configure.exit_code, 0) << configure.out << configure.err;
  const CommandResult compile = run_command("cmake --build " + build);
  ASSERT_EQ(compile.exit_code, 0) << compile.out << compile.err;
  // The freshly built library is a working plugin: the trainer gradient-checks its op.
  const CommandResult check =
      run_command(trainer_path() + " gradcheck --op prelu --shape 32,16 --shape 16 --plugin " +
                  build + "/libprelu_op.so");
  EXPECT_EQ(check.exit_code, 0) << check.out << check.err;
  EXPECT_NE(check.out.find("op 'prelu': every input's gradient passes"), std::string::npos)
      << check.out;
}

TEST(CustomOp, BothGradientsMatchFiniteDifferences) {
  load_plugin(LOOM_EXAMPLE_PLUGIN);
  // Inputs away from 0, where prelu has its corner.
  const OpUnderTest test{"prelu",
                         {},
                         {f32_input({5, 4}, random_values_away_from(20, 81, 0.f, 0.05f)),
                          f32_input({4}, random_values(4, 82, 0.1f, 0.5f))}};
  const auto outputs = run_forward(test);
  for (size_t i = 0; i < 20; ++i) {
    const float x = test.inputs[0].values[i], alpha = test.inputs[1].values[i % 4];
    EXPECT_FLOAT_EQ(outputs[0][i], x > 0 ? x : alpha * x);
  }
  const auto reports = check_gradients(test);
  ASSERT_EQ(reports.size(), 2u);  // x and alpha
  for (const GradientReport& report : reports) {
    EXPECT_EQ(report.kinks, 0);
    EXPECT_EQ(report.failures, 0) << "input " << report.input << ": " << report.worst_absolute;
  }
}

// The layers form with the plugin's prelu layer; the plugin named both in the config and by
// --plugin is loaded once.
TEST(CustomOp, TheExampleConfigTrains) {
  TemporaryDirectory directory;
  const CommandResult result = run_command(
      trainer_path() + " train " + source_path("examples/custom_op/prelu_mlp.yaml") +
      " --set 'plugins=[" + std::string(LOOM_EXAMPLE_PLUGIN) + "]' --plugin " +
      std::string(LOOM_EXAMPLE_PLUGIN) +
      " --set data.train.limit=10000 --set trainer.epochs=1 --out " + directory.file("run"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("Epoch 1/1"), std::string::npos);
}

}  // namespace
}  // namespace loom::testing
