// Every config in configs/optimizers/ trains the book model: one epoch on a 10,000-image slice
// must reach a test accuracy a user would call learning. Measured: 0.77-0.81 for all of them
// (seed 42); 0.70 leaves room for thread-count rounding while catching a broken update.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> optimizer_configs() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(source_path("configs/optimizers"))) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  std::ranges::sort(files);
  return files;
}

double last_test_accuracy(const std::string& history) {
  std::ifstream in(history);
  std::string line, last;
  while (std::getline(in, line)) last = line;
  // epoch,loss,accuracy,test_loss,test_accuracy,...
  size_t position = 0;
  for (int comma = 0; comma < 4; ++comma) position = last.find(',', position) + 1;
  return std::stod(last.substr(position));
}

class OptimizerConfig : public ::testing::TestWithParam<fs::path> {};

TEST_P(OptimizerConfig, TrainsTheBookModel) {
  TemporaryDirectory directory;
  const CommandResult result =
      run_command(trainer_path() + " train " + GetParam().string() + " --out " +
                  directory.file("run") + " --set data.train.limit=10000 --set trainer.epochs=1");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_GE(last_test_accuracy(directory.file("run/history.csv")), 0.70);
}

INSTANTIATE_TEST_SUITE_P(Configs, OptimizerConfig, ::testing::ValuesIn(optimizer_configs()),
                         [](const auto& param_info) {
                           return param_info.param.stem().string().substr(
                               std::string("fashion_mnist_mlp_").size());
                         });

TEST(OptimizerConfigs, CoverEveryBuiltInOptimizer) {
  for (const std::string name :
       {"sgd", "rmsprop", "adagrad", "adadelta", "adam", "adamw", "adamax", "nadam", "lion"}) {
    EXPECT_TRUE(fs::exists(source_path("configs/optimizers/fashion_mnist_mlp_" + name + ".yaml")))
        << name;
  }
}

}  // namespace
}  // namespace loom::testing
