// Plugins: a working one adds an op and an optimizer that configs can use; each broken one
// is refused with one clear message naming the file.

#include "engine/plugin/plugin.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/core/error.hpp"
#include "engine/graph/op.hpp"
#include "engine/optim/optimizer.hpp"
#include "engine/plugin/load_plugin.hpp"
#include "tests/support/op_harness.hpp"
#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

std::string plugin_path(const std::string& name) {
  return std::string(LOOM_TEST_PLUGIN_DIR) + "/lib" + name + ".so";
}

void expect_load_error(const std::string& file, const std::string& expected) {
  try {
    load_plugin(file);
    FAIL() << "expected " << file << " to be refused";
  } catch (const InputError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(file), std::string::npos) << message;
    EXPECT_NE(message.find(expected), std::string::npos) << message;
  }
}

TEST(Plugin, AddsItsOpAndOptimizer) {
  load_plugin(plugin_path("test_plugin"));
  load_plugin(plugin_path("test_plugin"));  // a second load of the same file does nothing
  EXPECT_NE(OpRegistry::global().find("test_cube"), nullptr);
  EXPECT_TRUE(OptimizerRegistry::global().contains("sign_sgd"));
}

TEST(Plugin, ItsOpPassesTheGradientCheck) {
  load_plugin(plugin_path("test_plugin"));
  const OpUnderTest test{"test_cube", {}, {f32_input({3, 4}, random_values(12, 41))}};
  const auto outputs = run_forward(test);
  for (size_t i = 0; i < 12; ++i) {
    const float x = test.inputs[0].values[i];
    EXPECT_NEAR(outputs[0][i], x * x * x, 1e-6);
  }
  for (const GradientReport& report : check_gradients(test)) {
    EXPECT_EQ(report.kinks, 0) << "inputs must stay clear of the op's corners";
    EXPECT_GT(report.checked, 0);
    EXPECT_EQ(report.failures, 0) << "worst absolute error " << report.worst_absolute;
  }
}

// Without a reference forward there is nothing to differentiate in double precision: the
// checker refuses, naming the node and what is missing, rather than judging on float32.
TEST(Plugin, AnOpWithoutAReferenceIsNotGradientChecked) {
  load_plugin(plugin_path("test_plugin"));
  const OpUnderTest test{"test_square", {}, {f32_input({3, 4}, random_values(12, 41))}};
  try {
    check_gradients(test);
    FAIL() << "expected an error";
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what())
                  .find("(test_square): the op has no double-precision "
                        "reference forward"),
              std::string::npos)
        << error.what();
  }
}

TEST(Plugin, MissingFile) {
  expect_load_error("/nonexistent/libnothing.so", "plugin not found");
}

TEST(Plugin, NotASharedLibrary) {
  TemporaryDirectory directory;
  std::ofstream(directory.file("fake.so")) << "not an ELF file";
  expect_load_error(directory.file("fake.so"), "cannot load the plugin");
}

TEST(Plugin, MissingEntryPoint) {
  expect_load_error(plugin_path("no_entry_plugin"),
                    "not a loom plugin: it does not export loom_plugin_api_version");
}

TEST(Plugin, BuiltForAnotherApiVersion) {
  expect_load_error(plugin_path("old_version_plugin"),
                    "the plugin was built for plugin API version 0, this engine has version " +
                        std::to_string(LOOM_PLUGIN_API_VERSION) +
                        ": "
                        "rebuild it");
}

TEST(Plugin, ThrowsDuringRegistration) {
  expect_load_error(plugin_path("throwing_plugin"),
                    "the plugin failed to register: cannot find my settings file");
}

// A crash cannot be caught as an exception, so the trainer is run as a user runs it: it must
// still print one error naming the plugin, exit 2 and write nothing.
TEST(Plugin, CrashesDuringRegistration) {
  TemporaryDirectory directory;
  const std::string run = directory.file("run");
  const CommandResult result = run_command(
      quoted(trainer_path()) + " train " + quoted(source_path("configs/fashion_mnist_mlp.yaml")) +
      " --plugin " + quoted(plugin_path("crashing_plugin")) + " --out " + quoted(run));
  if (!expect_one_error_line(result)) return;
  EXPECT_NE(result.err.find(plugin_path("crashing_plugin") +
                            ": the plugin crashed while registering (SIGSEGV)"),
            std::string::npos)
      << result.err;
  EXPECT_FALSE(std::filesystem::exists(run));
}

TEST(Plugin, RegistersANameTwice) {
  expect_load_error(plugin_path("duplicate_plugin"),
                    "the plugin failed to register: op 'relu' is registered twice");
}

// The trainer uses a plugin's optimizer and op named in a config's plugins: list, and the
// same plugin given with --plugin.
TEST(Plugin, ConfigTrainsWithThePluginOptimizerAndOp) {
  const std::string experiment = R"(data:
  root: /usr/share/datasets/fashion-mnist
  train: {images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz, limit: 3000}
  test: {images: t10k-images-idx3-ubyte.gz, labels: t10k-labels-idx1-ubyte.gz, limit: 1000}
model:
  inputs: {x: [784]}
  params: {w: {shape: [784, 10], init: glorot_uniform}, b: {shape: [10], init: zeros}}
  nodes:
    - {name: z, op: matmul, inputs: [x, w]}
    - {name: h, op: bias_add, inputs: [z, b]}
    - {name: c, op: test_cube, inputs: [h]}
    - {name: p, op: softmax, inputs: [c]}
  outputs: [p]
trainer:
  optimizer: {sign_sgd: {learning_rate: 0.0005}}
  loss: sparse_categorical_crossentropy
  epochs: 2
)";
  TemporaryDirectory directory;
  const std::string with_plugins = directory.file("with_plugins.yaml");
  const std::string without_plugins = directory.file("without_plugins.yaml");
  std::ofstream(with_plugins) << "plugins: [" << plugin_path("test_plugin") << "]\n" << experiment;
  std::ofstream(without_plugins) << experiment;

  const CommandResult listed =
      run_command(trainer_path() + " train " + with_plugins + " --out " + directory.file("a"));
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("Epoch 2/2"), std::string::npos);

  const CommandResult flag = run_command(trainer_path() + " train " + without_plugins +
                                         " --plugin " + plugin_path("test_plugin") +
                                         " --set trainer.epochs=1 --out " + directory.file("b"));
  EXPECT_EQ(flag.exit_code, 0) << flag.err;

  // Without the plugin, the op is unknown and the error says so at the node.
  const CommandResult missing =
      run_command(trainer_path() + " train " + without_plugins + " --out " + directory.file("c"));
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("unknown op 'test_cube'"), std::string::npos) << missing.err;
}

TEST(Plugin, ConfigNamesAMissingPluginAtItsPosition) {
  TemporaryDirectory directory;
  const std::string config = directory.file("bad.yaml");
  std::ofstream(config) << "plugins: [libmissing.so]\n";
  const CommandResult result =
      run_command(trainer_path() + " train " + config + " --out " + directory.file("run"));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find(config + ":1:11: plugins[0]: "), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("libmissing.so: plugin not found"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace loom::testing
