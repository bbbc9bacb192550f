// `trainer gradcheck` on every shipped config passes on real Fashion-MNIST batches, for two
// seeds here (tools/gradcheck_sweep.sh runs twenty); `--seed` draws an op check's inputs.

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

namespace fs = std::filesystem;

// Each shipped config with the flags it needs here: MNIST's configs read Fashion-MNIST's
// files (same names), the custom-op example its freshly built plugin.
std::vector<std::string> shipped_configs() {
  std::vector<std::string> commands;
  for (const char* folder : {"configs", "configs/optimizers"}) {
    std::vector<fs::path> files;
    for (const auto& entry : fs::directory_iterator(source_path(folder))) {
      if (entry.path().extension() == ".yaml") files.push_back(entry.path());
    }
    std::ranges::sort(files);
    for (const fs::path& file : files) {
      const bool mnist = file.filename().string().starts_with("mnist");
      commands.push_back(file.string() +
                         (mnist ? " --set data.root=/usr/share/datasets/fashion-mnist" : ""));
    }
  }
  commands.push_back(source_path("examples/custom_op/prelu_mlp.yaml") + " --set 'plugins=[" +
                     std::string(LOOM_EXAMPLE_PLUGIN) + "]'");
  return commands;
}

class ShippedConfig : public ::testing::TestWithParam<std::string> {};

TEST_P(ShippedConfig, PassesTheGradientCheck) {
  for (const char* seed : {"1", "2"}) {
    const CommandResult result =
        run_command(trainer_path() + " gradcheck " + GetParam() + " --seed " + seed);
    EXPECT_EQ(result.exit_code, 0) << "seed " << seed << "\n" << result.out << result.err;
    EXPECT_NE(result.out.find("parameters pass"), std::string::npos) << result.out;
  }
}

// The config file's stem, e.g. fashion_mnist_mlp_adam.
std::string config_name(const ::testing::TestParamInfo<std::string>& config) {
  std::string name = fs::path(config.param.substr(0, config.param.find(' '))).stem().string();
  std::ranges::replace_if(
      name, [](char c) { return !std::isalnum((unsigned char)c); }, '_');
  return name;
}

INSTANTIATE_TEST_SUITE_P(Configs, ShippedConfig, ::testing::ValuesIn(shipped_configs()),
                         config_name);

// What the shipped configs do not use: batch normalization on its batch's statistics, a
// dropout mask drawn for the first step, smooth activations.
TEST(Gradcheck, BatchNormAndDropoutInATrainingGraph) {
  TemporaryDirectory directory;
  const std::string config = directory.file("bn_dropout.yaml");
  std::ofstream(config) << R"(name: bn_dropout
data:
  root: /usr/share/datasets/fashion-mnist
  train: {images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz, limit: 320}
model:
  input: [28, 28, 1]
  layers:
    - {conv2d: 8, kernel_size: 3, use_bias: false}
    - {batch_norm: {}}
    - {activation: tanh}
    - {max_pool2d: 2}
    - {flatten: {}}
    - {dropout: 0.3}
    - {dense: 32, activation: gelu}
    - {dense: 10, activation: softmax}
trainer: {optimizer: adam, loss: categorical_crossentropy}
)";
  for (const char* seed : {"1", "2"}) {
    const CommandResult result =
        run_command(trainer_path() + " gradcheck " + config + " --batch 8 --seed " + seed);
    EXPECT_EQ(result.exit_code, 0) << "seed " << seed << "\n" << result.out << result.err;
    EXPECT_NE(result.out.find("all 7 parameters pass"), std::string::npos) << result.out;
  }
}

// The same seed draws the same inputs (the same report, byte for byte); another seed draws
// others (another report).
TEST(GradcheckOp, TheSeedDrawsTheInputs) {
  const auto check = [](const std::string& seed) {
    const CommandResult result = run_command(
        trainer_path() + " gradcheck --op tanh --shape 16,16 --low -3 --high 3 --seed " + seed);
    EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
    return result.out;
  };
  EXPECT_EQ(check("1"), check("1"));
  EXPECT_NE(check("1"), check("2"));
}

}  // namespace
}  // namespace loom::testing
