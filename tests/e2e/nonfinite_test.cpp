// NaN and infinity: training stops with the epoch, the step and the first node that produced
// one, the last good checkpoint stays as it was, and on_nonfinite: skip skips such batches.

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

const std::string kQuick =
    " --set data.train.limit=3200 --set data.test.limit=500 --set trainer.epochs=1";

TEST(NonFinite, StopsNamingTheNodeAndKeepsTheLastGoodCheckpoint) {
  TemporaryDirectory directory;
  const fs::path run = directory.file("run");
  ASSERT_EQ(run_command(trainer_path() + " train " + source_path("configs/fashion_mnist_mlp.yaml") +
                        kQuick + " --out " + run.string())
                .exit_code,
            0);
  const std::string good = slurp(run / "last.safetensors");
  // Resume the run with inputs scaled into overflow: the first step's matmul is infinite.
  std::string config = slurp(run / "config.yaml");
  config.replace(config.find("scale: "),
                 config.find('\n', config.find("scale: ")) - config.find("scale: "), "scale: 1e36");
  config.replace(config.find("epochs: 1"), 9, "epochs: 2");
  std::ofstream(run / "config.yaml") << config;
  const CommandResult result = run_command(trainer_path() + " train --resume " + run.string());
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("epoch 2, step 1: a non-finite value, first produced by node "
                            "'dense/matmul+bias_add+relu' (fused_matmul); training stopped"),
            std::string::npos)
      << result.err;
  EXPECT_EQ(slurp(run / "last.safetensors"), good) << "the last good checkpoint was overwritten";
}

TEST(NonFinite, SkipPolicySkipsBatchesAndSaysWhenNothingIsLeft) {
  TemporaryDirectory directory;
  const CommandResult result = run_command(
      trainer_path() + " train " + source_path("configs/fashion_mnist_mlp.yaml") + kQuick +
      " --set data.scale=1e36 --set trainer.on_nonfinite=skip --out " + directory.file("run"));
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("epoch 1: every batch was skipped for non-finite values"),
            std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("the batch was skipped"), std::string::npos);
}

TEST(NonFinite, CheckingModeChangesNoNumber) {
  TemporaryDirectory directory;
  for (const std::string mode : {"false", "true"}) {
    ASSERT_EQ(
        run_command(trainer_path() + " train " + source_path("configs/fashion_mnist_mlp.yaml") +
                    kQuick + " --threads 1 --set trainer.check_numerics=" + mode + " --out " +
                    directory.file(mode))
            .exit_code,
        0);
  }
  const auto losses = [&](const std::string& mode) {
    std::string text = slurp(directory.file(mode + "/history.csv"));
    return text.substr(0, text.rfind(',', text.rfind(',') - 1));  // without the timing columns
  };
  EXPECT_EQ(losses("false"), losses("true"));
}

}  // namespace
}  // namespace loom::testing
