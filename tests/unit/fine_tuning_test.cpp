// Fine-tuning on data made here: `trainable: false` on layers (no gradient nodes, no optimizer
// slots, weights and a frozen batch normalization's statistics untouched by training), and
// --init-weights' matching (strict by default, Keras's by_name and skip_mismatch).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <vector>

#include "engine/config/experiment.hpp"
#include "engine/train/initial_weights.hpp"
#include "engine/train/trainer.hpp"
#include "tests/support/npy_writer.hpp"
#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

// 64 samples of 6 features, three classes by the sign pattern of two features.
struct SmallData {
  TemporaryDirectory directory;
  SmallData() {
    std::vector<float> x;
    std::vector<int32_t> y;
    for (int i = 0; i < 64; ++i) {
      for (int f = 0; f < 6; ++f) x.push_back(std::sin(float(i * 7 + f * 3)));
      y.push_back(x[size_t(i * 6)] > 0 ? (x[size_t(i * 6 + 1)] > 0 ? 2 : 1) : 0);
    }
    write_file(directory.file("x.npy"), npy_header("<f4", "(64, 6)") + bytes_of(x));
    write_file(directory.file("y.npy"), npy_header("<i4", "(64,)") + bytes_of(y));
  }
};

const SmallData& data() {
  static const SmallData instance;
  return instance;
}

std::string config(const std::string& layers) {
  return "seed: 3\n"
         "data: {train: {format: npy, features: x.npy, targets: y.npy}}\n"
         "model:\n  input: [6]\n  layers:\n" +
         layers +
         "trainer: {optimizer: {adam: {learning_rate: 0.01}}, loss: "
         "sparse_categorical_crossentropy, batch_size: 16, epochs: 2}\n";
}

const char* kFrozenFirstLayers =
    "    - {dense: 8, activation: relu, trainable: false}\n"
    "    - {batch_norm: {}, trainable: false}\n"
    "    - {dense: 8, activation: relu}\n"
    "    - {batch_norm: {}}\n"
    "    - {dense: 3, activation: softmax}\n";

Experiment experiment(const std::string& layers) {
  return parse_experiment(config(layers), "fine_tuning.yaml", data().directory.path());
}

std::vector<float> values(Trainer& trainer, const std::string& name) {
  const auto span = trainer.parameters().at(name);
  return {span.begin(), span.end()};
}

TEST(Trainable, AFrozenLayerHasNoGradientsAndNoSlotsAndKeepsItsWeights) {
  Trainer trainer(experiment(kFrozenFirstLayers));
  const std::vector<std::string>& trainable = trainer.session().trainable_parameters();
  for (const char* frozen : {"dense/kernel", "dense/bias", "batch_norm/gamma", "batch_norm/beta"}) {
    EXPECT_EQ(std::ranges::count(trainable, frozen), 0) << frozen;
  }
  EXPECT_EQ(std::ranges::count(trainable, "dense_1/kernel"), 1);
  for (const OptimizerState& slot : trainer.optimizer().state()) {
    EXPECT_FALSE(slot.name.find("/dense/") != std::string::npos ||
                 slot.name.find("/batch_norm/") != std::string::npos)
        << slot.name;
  }
  std::vector<std::vector<float>> before;
  const std::vector<std::string> kept = {"dense/kernel", "dense/bias", "batch_norm/moving_mean",
                                         "batch_norm/moving_variance"};
  for (const std::string& name : kept) before.push_back(values(trainer, name));
  const std::vector<float> moving_before = values(trainer, "batch_norm_1/moving_mean");
  const std::vector<float> trained_before = values(trainer, "dense_1/kernel");

  const auto progress = make_silent_reporter();
  ASSERT_EQ(trainer.fit(*progress), FitOutcome::finished);
  for (size_t i = 0; i < kept.size(); ++i)
    EXPECT_EQ(values(trainer, kept[i]), before[i]) << kept[i];
  // The layers left trainable did train, and the unfrozen batch norm tracked its batches.
  EXPECT_NE(values(trainer, "dense_1/kernel"), trained_before);
  EXPECT_NE(values(trainer, "batch_norm_1/moving_mean"), moving_before);
}

TEST(Trainable, TheResolvedConfigKeepsTheFreeze) {
  const Experiment e = experiment(kFrozenFirstLayers);
  const YAML::Node model = e.resolved["model"];
  EXPECT_FALSE(model["params"]["dense/kernel"]["trainable"].as<bool>(true));
  bool frozen_node = false;
  for (const YAML::Node& node : model["nodes"]) {
    if (node["name"].as<std::string>() == "batch_norm")
      frozen_node = node["frozen"].as<bool>(false);
  }
  EXPECT_TRUE(frozen_node);
}

TEST(Trainable, EveryLayerFrozenLeavesNothingToTrain) {
  expect_input_error(
      [] { experiment("    - {dense: 3, activation: softmax, trainable: false}\n"); },
      {"no trainable parameter reaches the loss"});
}

// A checkpoint-like file holding `weights/<name>` tensors.
struct WeightFile {
  TemporaryDirectory directory;
  std::vector<std::vector<float>> values;
  std::string path = directory.file("weights.safetensors");
  void write(const std::vector<std::pair<std::string, Shape>>& tensors, float value = 0.5f) {
    std::vector<TensorBytes> entries;
    values.reserve(tensors.size());
    for (const auto& [name, shape] : tensors) {
      values.emplace_back(size_t(numel(shape)), value);
      entries.push_back({"weights/" + name, "F32", shape, std::as_bytes(std::span(values.back()))});
    }
    write_safetensors(path, entries, {{"format", "test"}});
  }
};

// A store with a [2, 3] kernel and a [3] bias, initialized to 1.
ParameterStore two_parameters() {
  Graph graph;
  graph.add_parameter("d/kernel", {DType::f32, {2, 3}}, Initializer{.name = "ones"}, true);
  graph.add_parameter("d/bias", {DType::f32, {3}}, Initializer{.name = "ones"}, true);
  ParameterStore store;
  store.initialize_from(graph, 1);
  return store;
}

TEST(InitWeights, StrictLoadsEverythingOrNothing) {
  WeightFile file;
  file.write({{"d/kernel", {2, 3}}, {"d/bias", {3}}});
  ParameterStore store = two_parameters();
  const WeightLoadReport report = load_initial_weights(SafetensorsFile::read(file.path), store, {});
  EXPECT_EQ(report.loaded.size(), 2u);
  EXPECT_EQ(store.at("d/bias")[0], 0.5f);

  file.write({{"d/kernel", {2, 3}}});  // no bias: refused, nothing copied
  ParameterStore untouched = two_parameters();
  expect_input_error([&] { load_initial_weights(SafetensorsFile::read(file.path), untouched, {}); },
                     {"weights.safetensors", "no weights for d/bias", "--by-name"});
  EXPECT_EQ(untouched.at("d/kernel")[0], 1.f);

  file.write({{"d/kernel", {2, 3}}, {"d/bias", {3}}, {"extra/kernel", {4}}});
  expect_input_error([&] { load_initial_weights(SafetensorsFile::read(file.path), untouched, {}); },
                     {"no parameters extra/kernel", "--by-name"});
}

TEST(InitWeights, ByNameLoadsWhatMatchesAndListsTheRest) {
  WeightFile file;
  file.write({{"d/kernel", {2, 3}}, {"other/bias", {3}}});
  ParameterStore store = two_parameters();
  const WeightLoadReport report =
      load_initial_weights(SafetensorsFile::read(file.path), store, {.by_name = true});
  EXPECT_EQ(report.loaded, std::vector<std::string>{"d/kernel"});
  EXPECT_EQ(report.kept, std::vector<std::string>{"d/bias"});
  EXPECT_EQ(report.unused, std::vector<std::string>{"other/bias"});
  EXPECT_EQ(store.at("d/kernel")[5], 0.5f);
  EXPECT_EQ(store.at("d/bias")[0], 1.f);
  EXPECT_EQ(report.summary(),
            "1 of 2 parameters loaded; not in the file, kept as initialized: d/bias; in the file, "
            "not in this model: other/bias");
}

TEST(InitWeights, AShapeMismatchIsSkippedOnlyWhenAsked) {
  WeightFile file;
  file.write({{"d/kernel", {2, 3}}, {"d/bias", {10}}});  // a new head with another class count
  ParameterStore store = two_parameters();
  expect_input_error(
      [&] { load_initial_weights(SafetensorsFile::read(file.path), store, {.by_name = true}); },
      {"d/bias: [10] in the file, [3] here", "--skip-mismatch"});
  EXPECT_EQ(store.at("d/kernel")[0], 1.f);
  const WeightLoadReport report = load_initial_weights(SafetensorsFile::read(file.path), store,
                                                       {.by_name = true, .skip_mismatch = true});
  EXPECT_EQ(report.loaded, std::vector<std::string>{"d/kernel"});
  EXPECT_EQ(report.skipped, std::vector<std::string>{"d/bias: [10] in the file, [3] here"});
  EXPECT_EQ(store.at("d/bias")[0], 1.f);
  expect_input_error(
      [&] {
        load_initial_weights(SafetensorsFile::read(file.path), store, {.skip_mismatch = true});
      },
      {"--skip-mismatch needs --by-name"});
}

TEST(InitWeights, NothingInCommonOrANonFiniteWeightIsRefused) {
  WeightFile file;
  file.write({{"x/kernel", {2, 3}}});
  ParameterStore store = two_parameters();
  expect_input_error(
      [&] { load_initial_weights(SafetensorsFile::read(file.path), store, {.by_name = true}); },
      {"no parameter of this model"});
  file.write({{"d/kernel", {2, 3}}, {"d/bias", {3}}}, std::nanf(""));
  expect_input_error([&] { load_initial_weights(SafetensorsFile::read(file.path), store, {}); },
                     {"weights/d/bias holds a non-finite value (NaN at element 0)"});
  EXPECT_EQ(store.at("d/kernel")[0], 1.f);
}

// The book's transfer-learning step from the command line: a new head (another class count)
// on a trained body, loaded by name with the head skipped, then trained with the body frozen.
TEST(InitWeights, ANewHeadOnATrainedFrozenBody) {
  TemporaryDirectory runs;
  const std::string first = runs.file("first.yaml"), second = runs.file("second.yaml");
  std::ofstream(first) << config(
      "    - {dense: 8, activation: relu}\n"
      "    - {dense: 3, activation: softmax}\n");
  std::ofstream(second) << config(
      "    - {dense: 8, activation: relu, trainable: false}\n"
      "    - {dense: 4, activation: softmax}\n");
  for (const char* file : {"x.npy", "y.npy"}) {
    std::filesystem::copy_file(data().directory.file(file), runs.file(file));
  }
  ASSERT_EQ(run_command(trainer_path() + " train " + first + " --out " + runs.file("a")).exit_code,
            0);
  const std::string weights = " --init-weights " + runs.file("a/last.safetensors");
  const CommandResult strict =
      run_command(trainer_path() + " train " + second + weights + " --out " + runs.file("b"));
  EXPECT_EQ(strict.exit_code, 2);
  EXPECT_NE(strict.err.find("dense_1/bias: [3] in the file, [4] here"), std::string::npos)
      << strict.err;
  EXPECT_FALSE(std::filesystem::exists(runs.file("b")));
  const CommandResult tuned = run_command(trainer_path() + " train " + second + weights +
                                          " --by-name --skip-mismatch --out " + runs.file("c"));
  ASSERT_EQ(tuned.exit_code, 0) << tuned.err;
  EXPECT_NE(
      tuned.err.find("2 of 4 parameters loaded; skipped, another shape: dense_1/bias: [3] "
                     "in the file, [4] here, dense_1/kernel: [8, 3] in the file, [8, 4] here"),
      std::string::npos)
      << tuned.err;
  const SafetensorsFile before = SafetensorsFile::read(runs.file("a/last.safetensors"));
  const SafetensorsFile after = SafetensorsFile::read(runs.file("c/last.safetensors"));
  const auto body = [](const SafetensorsFile& f) { return f.raw_bytes("weights/dense/kernel"); };
  EXPECT_TRUE(std::ranges::equal(body(before), body(after)));  // frozen, loaded, unchanged
}

}  // namespace
}  // namespace loom::testing
