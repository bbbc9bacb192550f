// Models that leave their run: `trainer export` writes one file that evaluate, predict and
// summary use with no training data on disk; its scale and class names travel with it; other
// files given as a model are refused with the reason. Small data made here.

#include "engine/train/model_file.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <vector>

#include "engine/train/safetensors.hpp"
#include "tests/support/exported_model.hpp"
#include "tests/support/npy_writer.hpp"
#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

namespace fs = std::filesystem;

std::string read_file_bytes_as_string(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(ModelFile, PredictsAndEvaluatesWithoutTheTrainingData) {
  const ExportedRun r;
  const CommandResult from_run =
      r.trainer("predict " + r.run + " --input " + r.directory.file("u8.npy"));
  ASSERT_EQ(from_run.exit_code, 0) << from_run.err;
  const std::string labelled =
      " --input " + r.directory.file("u8.npy") + " --targets " + r.directory.file("labels.npy");
  const CommandResult evaluated_run = r.trainer("evaluate " + r.run + labelled);
  ASSERT_EQ(evaluated_run.exit_code, 0) << evaluated_run.err;
  const CommandResult exported = r.trainer("export " + r.run + " --output " + r.model);
  ASSERT_EQ(exported.exit_code, 0) << exported.err;
  fs::remove_all(r.directory.file("data"));
  const CommandResult from_run_without_data =
      r.trainer("predict " + r.run + " --input " + r.directory.file("u8.npy"));
  ASSERT_EQ(from_run_without_data.exit_code, 0) << from_run_without_data.err;
  EXPECT_EQ(from_run_without_data.out, from_run.out);

  const CommandResult from_model =
      r.trainer("predict " + r.model + " --input " + r.directory.file("u8.npy"));
  ASSERT_EQ(from_model.exit_code, 0) << from_model.err;
  EXPECT_EQ(from_model.out, from_run.out);
  // The scale the training set was read with (1/255 for its uint8 images) comes with the model:
  // the same values as float32 predict the same.
  const CommandResult floats =
      r.trainer("predict " + r.model + " --input " + r.directory.file("f32.npy"));
  ASSERT_EQ(floats.exit_code, 0) << floats.err;
  EXPECT_EQ(floats.out, from_model.out);

  const CommandResult evaluated = r.trainer("evaluate " + r.model + labelled);
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
  EXPECT_EQ(evaluated.out, evaluated_run.out);
  EXPECT_NE(evaluated.out.find("96 samples - loss: "), std::string::npos) << evaluated.out;
  EXPECT_NE(evaluated.out.find("accuracy: 1.0000"), std::string::npos) << evaluated.out;
}

TEST(ModelFile, HoldsTheGraphTheScaleAndTheVersion) {
  const ExportedRun r;
  ASSERT_EQ(r.trainer("export " + r.run + " --checkpoint best --output " + r.model).exit_code, 0);
  const SafetensorsFile model = SafetensorsFile::read(r.model);
  EXPECT_EQ(model.metadata("format"), kModelFormat);
  EXPECT_EQ(model.metadata("engine_version"), LOOM_VERSION);
  const Experiment experiment = model_experiment(model);
  ASSERT_TRUE(experiment.data.scale.has_value());
  EXPECT_FLOAT_EQ(float(*experiment.data.scale), 1.f / 255.f);
  EXPECT_EQ(experiment.model.nodes.size(), 7u);  // flatten, 2 × (matmul, bias_add, activation)
  EXPECT_TRUE(model.contains("weights/dense/kernel"));
  EXPECT_FALSE(model.contains("optimizer/dense/kernel/m"));  // no training state
}

TEST(ModelFile, SummaryOfAConfigAModelAndARun) {
  const ExportedRun r;
  ASSERT_EQ(r.trainer("export " + r.run + " --output " + r.model).exit_code, 0);
  for (const std::string& source : {r.directory.file("config.yaml"), r.model, r.run}) {
    const CommandResult summary = r.trainer("summary " + source);
    ASSERT_EQ(summary.exit_code, 0) << summary.err;
    // 16·8 + 8 and 8·2 + 2, as Keras counts them.
    EXPECT_NE(summary.out.find("dense (matmul, bias_add, relu)"), std::string::npos) << summary.out;
    EXPECT_NE(summary.out.find("(None, 8)"), std::string::npos) << summary.out;
    EXPECT_NE(summary.out.find("Total params: 154"), std::string::npos) << summary.out;
    EXPECT_NE(summary.out.find("Non-trainable params: 0"), std::string::npos) << summary.out;
  }
}

TEST(ModelFile, BenchTimesItThroughTheApiAtThreeBatchSizes) {
  const ExportedRun r;
  ASSERT_EQ(r.trainer("export " + r.run + " --output " + r.model).exit_code, 0);
  const CommandResult bench = r.trainer("bench --inference " + r.model + " --steps 5 --threads 1");
  ASSERT_EQ(bench.exit_code, 0) << bench.err;
  EXPECT_NE(bench.out.find("inference of 'tiny' through the C++ API (1 threads)"),
            std::string::npos)
      << bench.out;
  for (const char* batch :
       {"\n       1        5 ", "\n      32        5 ", "\n     256        5 "}) {
    EXPECT_NE(bench.out.find(batch), std::string::npos) << bench.out;
  }
  const CommandResult config =
      r.trainer("bench --inference " + r.directory.file("config.yaml") + " --steps 5");
  EXPECT_EQ(config.exit_code, 2);
  EXPECT_NE(config.err.find("bench --inference takes a model file"), std::string::npos);
}

TEST(ModelFile, WhatIsNotAModelIsRefusedWithTheReason) {
  const ExportedRun r;
  ASSERT_EQ(r.trainer("export " + r.run + " --output " + r.model).exit_code, 0);
  const auto refused = [&](const std::string& arguments, const std::string& reason) {
    const CommandResult result = r.trainer(arguments);
    EXPECT_EQ(result.exit_code, 2) << arguments;
    EXPECT_NE(result.err.find(reason), std::string::npos) << arguments << ": " << result.err;
  };
  const std::string input = " --input " + r.directory.file("u8.npy");
  refused("predict " + r.run + "/last.safetensors" + input,
          "a training checkpoint, not a model file: give its run directory, or export it");
  refused("predict " + r.model + " --weights " + r.run + "/last.safetensors" + input,
          "is a model file, which holds its own weights");
  refused("predict " + r.directory.file("config.yaml") + input, "a config needs --weights");
  refused("export " + r.directory.file("config.yaml") + " --output x.loom", "not a run directory");
  refused("export " + r.directory.file("data") + " --output x.loom", "no config.yaml");
  refused("export " + r.run + " --output " + r.run + "/best.safetensors",
          "exists and is not a model file; export replaces only a model file");
  EXPECT_EQ(r.trainer("export " + r.run + " --output " + r.model).exit_code, 0);  // a model: yes
  refused("evaluate " + r.model + input, "give its targets with --targets FILE");
  refused("export " + r.run + " --output " + r.directory.path(), "a directory; give the model");
  refused("export " + r.run + " --output " + r.directory.file("none/m.loom"),
          "the directory " + r.directory.file("none") + " does not exist");
  // A truncated model is a damaged model file, not a config.
  const std::string bytes = read_file_bytes_as_string(r.model);
  write_file(r.directory.file("truncated.loom"), bytes.substr(0, bytes.size() / 2));
  refused("predict " + r.directory.file("truncated.loom") + input, "truncated");

  // A model from a later format names the version that wrote it.
  const SafetensorsFile model = SafetensorsFile::read(r.model);
  std::vector<TensorBytes> tensors;
  for (const std::string& name : model.names()) tensors.push_back(model.tensor(name));
  std::map<std::string, std::string> metadata = model.metadata();
  metadata["format"] = "loom-model-7";
  metadata["engine_version"] = "9.0.0";
  write_safetensors(r.directory.file("future.loom"), tensors, metadata);
  refused("predict " + r.directory.file("future.loom") + input,
          "not a model this loom reads (format 'loom-model-7', written by loom 9.0.0); loom " +
              std::string(LOOM_VERSION) + " reads loom-model-1");
}

}  // namespace
}  // namespace loom::testing
