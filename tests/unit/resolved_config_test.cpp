// The resolved config (config.yaml in a run directory, which `--resume` loads) writes every
// option with its value, and loading it gives the same experiment, hence the same resolved
// config again.

#include "engine/config/resolved_config.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "engine/config/experiment.hpp"
#include "tests/support/run_command.hpp"

namespace loom {
namespace {

namespace fs = std::filesystem;
using testing::source_path;
using testing::TemporaryDirectory;

// The MNIST configs read the same file names from a folder of their own.
constexpr const char* kDataRoot = "/usr/share/datasets/fashion-mnist";
// configs/tabular read Debian's python3-sklearn tables where the package puts them.
constexpr const char* kTabularRoot = "/usr/lib/python3/dist-packages/sklearn/datasets/data";

std::vector<fs::path> shipped_configs() {
  std::vector<fs::path> files;
  for (const auto& entry : fs::recursive_directory_iterator(source_path("configs"))) {
    if (entry.path().extension() == ".yaml") files.push_back(entry.path());
  }
  std::ranges::sort(files);
  return files;
}

TEST(ResolvedConfig, LoadingItGivesTheSameResolvedConfig) {
  if (!fs::exists(kDataRoot)) GTEST_SKIP() << "no data at " << kDataRoot;
  const std::vector<fs::path> configs = shipped_configs();
  ASSERT_GE(configs.size(), 10u);
  for (const fs::path& config : configs) {
    SCOPED_TRACE(config.string());
    const bool tabular = config.parent_path().filename() == "tabular";
    if (tabular && !fs::exists(kTabularRoot)) continue;  // python3-sklearn is not installed
    const Experiment first =
        load_experiment(config, tabular ? std::vector<std::string>{}
                                        : std::vector{std::string("data.root=") + kDataRoot});
    const std::string written = YAML::Dump(first.resolved);
    TemporaryDirectory directory;
    std::ofstream(directory.file("config.yaml")) << written << "\n";
    const Experiment second = load_experiment(directory.file("config.yaml"));
    EXPECT_EQ(YAML::Dump(second.resolved), written);
  }
}

Experiment experiment_with_trainer(const std::string& trainer) {
  return parse_experiment(std::string("data:\n  root: ") + kDataRoot + R"(
  train: {images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz}
model:
  input: [784]
  layers: [{dense: 10, activation: softmax}]
trainer: )" + trainer + "\n",
                          "trainer.yaml", ".");
}

TEST(ResolvedConfig, WritesEveryOptionOfTheOptimizer) {
  if (!fs::exists(kDataRoot)) GTEST_SKIP() << "no data at " << kDataRoot;
  const Experiment experiment =
      experiment_with_trainer("{loss: categorical_crossentropy, optimizer: rmsprop}");
  const YAML::Node rmsprop = experiment.resolved["trainer"]["optimizer"]["rmsprop"];
  ASSERT_TRUE(rmsprop.IsMap()) << YAML::Dump(experiment.resolved["trainer"]);
  EXPECT_DOUBLE_EQ(rmsprop["learning_rate"].as<double>(), 0.001);
  EXPECT_DOUBLE_EQ(rmsprop["rho"].as<double>(), 0.9);
  EXPECT_DOUBLE_EQ(rmsprop["momentum"].as<double>(), 0.0);
  EXPECT_DOUBLE_EQ(rmsprop["epsilon"].as<double>(), 1e-7);
  EXPECT_FALSE(rmsprop["centered"].as<bool>());
  EXPECT_DOUBLE_EQ(rmsprop["weight_decay"].as<double>(), 0.0);
  // Clipping is off: left out, as a config that does not clip writes it.
  EXPECT_FALSE(rmsprop["clipnorm"]);
}

// Flushing subnormals is written out either way, so a model file evaluates as it trained.
TEST(ResolvedConfig, WritesWhetherSubnormalsAreFlushed) {
  if (!fs::exists(kDataRoot)) GTEST_SKIP() << "no data at " << kDataRoot;
  const std::string loss = "{loss: categorical_crossentropy";
  const Experiment by_default = experiment_with_trainer(loss + "}");
  EXPECT_TRUE(by_default.trainer.flush_denormals);
  EXPECT_TRUE(by_default.resolved["trainer"]["flush_denormals"].as<bool>());
  const Experiment kept = experiment_with_trainer(loss + ", flush_denormals: false}");
  EXPECT_FALSE(kept.trainer.flush_denormals);
  EXPECT_FALSE(kept.resolved["trainer"]["flush_denormals"].as<bool>());
}

TEST(ResolvedConfig, WritesScheduleAndCallbackOptions) {
  if (!fs::exists(kDataRoot)) GTEST_SKIP() << "no data at " << kDataRoot;
  const Experiment experiment = experiment_with_trainer(R"({loss: categorical_crossentropy,
  optimizer: {sgd: {learning_rate: {cosine_decay: {initial_learning_rate: 0.1, decay_steps: 10}}}},
  metrics: [{top_k_accuracy: {}}],
  callbacks: {early_stopping: {monitor: loss}}})");
  const YAML::Node trainer = experiment.resolved["trainer"];
  const YAML::Node cosine = trainer["optimizer"]["sgd"]["learning_rate"]["cosine_decay"];
  EXPECT_EQ(cosine["decay_steps"].as<int>(), 10);
  EXPECT_DOUBLE_EQ(cosine["alpha"].as<double>(), 0.0);
  EXPECT_EQ(cosine["warmup_steps"].as<int>(), 0);
  EXPECT_FALSE(cosine["warmup_target"]);  // no warmup
  EXPECT_DOUBLE_EQ(trainer["optimizer"]["sgd"]["momentum"].as<double>(), 0.0);
  EXPECT_EQ(trainer["metrics"][0]["top_k_accuracy"]["k"].as<int>(), 5);
  EXPECT_EQ(trainer["callbacks"]["early_stopping"]["patience"].as<int>(), 0);
}

}  // namespace
}  // namespace loom
