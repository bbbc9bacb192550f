// Evaluation and prediction run on a Session alone: they read only the data they evaluate
// (a machine with the test set and a checkpoint, not the training set, can evaluate), compile
// no training plan and create no optimizer; and a graph is built once per (purpose, batch).

#include "engine/train/session.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "engine/config/experiment.hpp"
#include "engine/train/evaluation.hpp"
#include "engine/train/training_data.hpp"
#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

namespace fs = std::filesystem;

const fs::path kData = "/usr/share/datasets/fashion-mnist";

std::string config_text(const std::string& root) {
  return "name: session\n"
         "data:\n"
         "  root: " +
         root +
         "\n"
         "  train: {images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz, "
         "limit: 3000}\n"
         "  test: {images: t10k-images-idx3-ubyte.gz, labels: t10k-labels-idx1-ubyte.gz, "
         "limit: 1000}\n"
         "model:\n"
         "  input: [784]\n"
         "  layers:\n"
         "    - {dense: 64, activation: relu}\n"
         "    - {dense: 10, activation: softmax}\n"
         "trainer: {loss: categorical_crossentropy, metrics: [accuracy], batch_size: 48, "
         "epochs: 1}\n";
}

TEST(Session, EvaluateAndPredictNeedNoTrainingFiles) {
  TemporaryDirectory directory;
  const std::string trained_config = directory.file("trained.yaml");
  std::ofstream(trained_config) << config_text(kData.string());
  ASSERT_EQ(
      run_command(trainer_path() + " train " + trained_config + " --out " + directory.file("run"))
          .exit_code,
      0);
  const std::string weights = directory.file("run/last.safetensors");
  const CommandResult expected =
      run_command(trainer_path() + " evaluate " + trained_config + " --weights " + weights);
  ASSERT_EQ(expected.exit_code, 0) << expected.err;

  // A copy of the config whose data folder holds the test set only.
  const fs::path data = directory.file("data");
  fs::create_directory(data);
  for (const char* file : {"t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}) {
    fs::copy_file(kData / file, data / file);
  }
  const std::string config = directory.file("test_only.yaml");
  std::ofstream(config) << config_text(data.string());

  const CommandResult evaluated =
      run_command(trainer_path() + " evaluate " + config + " --weights " + weights);
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
  EXPECT_EQ(evaluated.out, expected.out);
  EXPECT_NE(evaluated.out.find("test: 1000 samples - loss: "), std::string::npos);

  const CommandResult predicted =
      run_command(trainer_path() + " predict " + config + " --weights " + weights + " --input " +
                  (data / "t10k-images-idx3-ubyte.gz").string());
  ASSERT_EQ(predicted.exit_code, 0) << predicted.err;
  EXPECT_EQ(std::count(predicted.out.begin(), predicted.out.end(), '\n'), 10001);

  // What needs the training set says which file is missing, in one line.
  const CommandResult on_train = run_command(trainer_path() + " evaluate " + config +
                                             " --weights " + weights + " --data train");
  EXPECT_EQ(on_train.exit_code, 2);
  if (expect_one_error_line(on_train)) {
    EXPECT_NE(on_train.err.find("train-images-idx3-ubyte.gz"), std::string::npos) << on_train.err;
  }
  const CommandResult training =
      run_command(trainer_path() + " train " + config + " --out " + directory.file("refused"));
  EXPECT_EQ(training.exit_code, 2);
  EXPECT_NE(training.err.find("train-images-idx3-ubyte.gz"), std::string::npos) << training.err;
}

TEST(Session, InferenceBuildsEachGraphOnceAndNoTrainingPlan) {
  TemporaryDirectory directory;
  const std::string config = directory.file("session.yaml");
  std::ofstream(config) << config_text(kData.string());
  Session session(load_experiment(config, {}, DataUse::inference));
  const Dataset test = *load_data_set(session.experiment(), session.classes(), nullptr, "test");
  MetricSet metrics(session.experiment().trainer.metrics,
                    metric_context(session.experiment(), session.classes()));
  const Evaluation evaluation = evaluate(session, metrics, test);
  EXPECT_EQ(evaluation.samples, 1000);
  EXPECT_EQ(evaluation.metrics.size(), 1u);

  // 1000 = 20 batches of 48 and one of 40: two inference plans, no training plan.
  EXPECT_TRUE(session.has_plan(Purpose::inference, 48));
  EXPECT_TRUE(session.has_plan(Purpose::inference, 40));
  EXPECT_FALSE(session.has_plan(Purpose::training, 48));
  EXPECT_FALSE(session.has_plan(Purpose::training, 40));
  // Graphs are kept: asked again, the same one; the training graph at the config's batch is
  // the one loading built to check the shapes.
  EXPECT_EQ(&session.graph(Purpose::inference, 48), &session.graph(Purpose::inference, 48));
  EXPECT_EQ(&session.graph(Purpose::training, 48),
            session.experiment().checked_training_graph.get());
}

}  // namespace
}  // namespace loom::testing
