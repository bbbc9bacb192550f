// What a training run leaves behind and how it continues: checkpoints that survive kill -9
// and resume to bit-identical weights, resume vs init-weights, Keras's validation_split and
// early stopping, evaluate and predict agreeing, SIGTERM, and the report.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "engine/config/experiment.hpp"
#include "engine/core/error.hpp"
#include "engine/data/idx.hpp"
#include "engine/train/safetensors.hpp"
#include "engine/train/trainer.hpp"
#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

namespace fs = std::filesystem;

// A run long enough to interrupt: dropout, Nadam's scalar state, a cosine schedule and a
// validation split all have to come back exactly.
const char* kConfig = R"(name: lifecycle
seed: 5
data:
  root: /usr/share/datasets/fashion-mnist
  train: {images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz, limit: 30000}
  test: {images: t10k-images-idx3-ubyte.gz, labels: t10k-labels-idx1-ubyte.gz, limit: 2000}
  validation_split: 0.1
model:
  input: [784]
  layers:
    - {dense: 128, activation: relu}
    - {dropout: 0.3}
    - {dense: 10, activation: softmax}
trainer:
  optimizer: {nadam: {learning_rate: {cosine_decay: {initial_learning_rate: 0.002, decay_steps: 6000}}}}
  loss: categorical_crossentropy
  metrics: [accuracy]
  epochs: 6
  callbacks: {checkpoint: {every_steps: 25}}
)";

std::string write_config(const TemporaryDirectory& directory, const std::string& text = kConfig) {
  const std::string file = directory.file("lifecycle.yaml");
  std::ofstream(file) << text;
  return file;
}

// Waits until the run's last checkpoint is in the middle of epoch `epoch` or later.
bool wait_for_mid_epoch_checkpoint(const fs::path& run, int64_t epoch) {
  for (int attempt = 0; attempt < 600; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    try {
      const SafetensorsFile checkpoint = SafetensorsFile::read(run / "last.safetensors");
      if (std::stoll(checkpoint.metadata("epoch")) >= epoch &&
          std::stoll(checkpoint.metadata("step_in_epoch")) > 0) {
        return true;
      }
    } catch (const InputError&) {
      // Not written yet.
    }
  }
  return false;
}

std::vector<std::string> loss_columns(const fs::path& history) {
  std::ifstream in(history);
  std::vector<std::string> rows;
  for (std::string line; std::getline(in, line);) {
    // Drop the two timing columns at the end.
    for (int i = 0; i < 2; ++i) line = line.substr(0, line.rfind(','));
    rows.push_back(line);
  }
  return rows;
}

std::vector<std::byte> raw_data(const fs::path& checkpoint) {
  // The checkpoint minus its header: every tensor's bytes, in order.
  std::ifstream in(checkpoint, std::ios::binary);
  uint64_t length = 0;
  in.read(reinterpret_cast<char*>(&length), 8);
  in.seekg(std::streamoff(8 + length));
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> result(bytes.size());
  std::memcpy(result.data(), bytes.data(), bytes.size());
  return result;
}

TEST(RunLifecycle, KilledMidEpochAndResumedEndsBitIdentical) {
  TemporaryDirectory directory;
  const std::string config = write_config(directory);
  const fs::path uninterrupted = directory.file("a"), interrupted = directory.file("b");
  const CommandResult reference = run_command(trainer_path() + " train " + config +
                                              " --threads 1 --out " + uninterrupted.string());
  ASSERT_EQ(reference.exit_code, 0) << reference.err;

  const pid_t pid = spawn_process(
      {trainer_path(), "train", config, "--threads", "1", "--out", interrupted.string()},
      directory.file("b.log"));
  const bool reached = wait_for_mid_epoch_checkpoint(interrupted, 2);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(reached) << "no mid-epoch checkpoint appeared";
  ASSERT_TRUE(WIFSIGNALED(status)) << "the run finished before it could be killed";
  const SafetensorsFile killed_at = SafetensorsFile::read(interrupted / "last.safetensors");
  ASSERT_LT(std::stoll(killed_at.metadata("epoch")), 7);

  const CommandResult resumed =
      run_command(trainer_path() + " train --resume " + interrupted.string() + " --threads 1");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  // Weights, optimizer slots, sample order: byte for byte. The loss history too.
  EXPECT_TRUE(raw_data(uninterrupted / "last.safetensors") ==
              raw_data(interrupted / "last.safetensors"));
  EXPECT_EQ(loss_columns(uninterrupted / "history.csv"), loss_columns(interrupted / "history.csv"));
}

TEST(RunLifecycle, SigtermCheckpointsAndExitsCleanly) {
  TemporaryDirectory directory;
  const std::string config = write_config(directory);
  const fs::path run = directory.file("run");
  const pid_t pid =
      spawn_process({trainer_path(), "train", config, "--threads", "1", "--out", run.string()},
                    directory.file("run.log"));
  ASSERT_TRUE(wait_for_mid_epoch_checkpoint(run, 1));
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 130);
  EXPECT_NO_THROW(SafetensorsFile::read(run / "last.safetensors"));
  const CommandResult resumed = run_command(trainer_path() + " train --resume " + run.string());
  EXPECT_EQ(resumed.exit_code, 0) << resumed.err;
}

TEST(RunLifecycle, ResumeAndInitWeightsMeanDifferentThings) {
  TemporaryDirectory directory;
  const std::string config = write_config(directory);
  const std::string quick = " --set trainer.epochs=1 --set data.train.limit=3000";
  ASSERT_EQ(
      run_command(trainer_path() + " train " + config + quick + " --out " + directory.file("first"))
          .exit_code,
      0);
  // init-weights: a new run (epoch 1, a fresh optimizer) from the first run's weights.
  const CommandResult fresh =
      run_command(trainer_path() + " train " + config + quick + " --init-weights " +
                  directory.file("first/last.safetensors") + " --out " + directory.file("second"));
  ASSERT_EQ(fresh.exit_code, 0) << fresh.err;
  const SafetensorsFile second = SafetensorsFile::read(directory.file("second/last.safetensors"));
  EXPECT_EQ(second.metadata("epoch"), "2");  // one epoch of its own
  // Both at once is an error that says which does what.
  const CommandResult both =
      run_command(trainer_path() + " train --resume " + directory.file("first") +
                  " --init-weights " + directory.file("first/last.safetensors"));
  EXPECT_EQ(both.exit_code, 2);
  EXPECT_NE(both.err.find("--resume RUN_DIR continues a run exactly"), std::string::npos)
      << both.err;
  const CommandResult missing =
      run_command(trainer_path() + " train --resume " + directory.file("nowhere"));
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("config.yaml not found"), std::string::npos) << missing.err;
}

TEST(RunLifecycle, CorruptedCheckpointsAreRefused) {
  TemporaryDirectory directory;
  const std::string config = write_config(directory);
  ASSERT_EQ(run_command(trainer_path() + " train " + config +
                        " --set trainer.epochs=1 --set data.train.limit=3000 --out " +
                        directory.file("run"))
                .exit_code,
            0);
  const fs::path good = directory.file("run/last.safetensors");
  std::ifstream in(good, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(directory.file("truncated.safetensors"), std::ios::binary)
      << bytes.substr(0, bytes.size() / 2);
  std::string flipped = bytes;
  flipped[flipped.size() - 100] ^= 0x55;
  std::ofstream(directory.file("flipped.safetensors"), std::ios::binary) << flipped;
  for (const auto& [file, message] : {std::pair{"truncated.safetensors", "truncated or corrupted"},
                                      std::pair{"flipped.safetensors", "checksum mismatch"}}) {
    const CommandResult result =
        run_command(trainer_path() + " evaluate " + config + " --weights " + directory.file(file));
    EXPECT_EQ(result.exit_code, 2) << file;
    EXPECT_NE(result.err.find(message), std::string::npos) << result.err;
  }
}

TEST(RunLifecycle, ValidationSplitIsTheLastFractionBeforeShuffling) {
  Experiment experiment = parse_experiment(kConfig, "lifecycle.yaml", ".");
  Trainer trainer(std::move(experiment));
  const IdxArray labels = read_idx("/usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz");
  // 30,000 samples: the last 3,000 validate, the first 27,000 train, in file order.
  ASSERT_EQ(trainer.train_data().size(), 27000);
  ASSERT_EQ(trainer.validation_data()->size(), 3000);
  for (int64_t i = 0; i < 3000; ++i) {
    ASSERT_EQ(trainer.validation_data()->target_value(i), labels.data[size_t(27000 + i)]);
  }
  EXPECT_EQ(trainer.train_data().target_value(0), labels.data[0]);
}

TEST(RunLifecycle, EarlyStoppingRestoresTheBestWeights) {
  // Monitoring val_accuracy in "min" mode makes every improvement of the model a
  // deterioration of the monitor: the run must stop after epoch 1 + patience and hand back
  // epoch 1's weights, the best checkpoint's.
  std::string text = kConfig;
  text.replace(text.find("  callbacks: {checkpoint: {every_steps: 25}}"),
               std::string("  callbacks: {checkpoint: {every_steps: 25}}").size(),
               "  callbacks:\n"
               "    early_stopping: {monitor: val_accuracy, mode: min, patience: 1, "
               "restore_best_weights: true}\n"
               "    checkpoint: {monitor: val_accuracy, mode: min}");
  TemporaryDirectory directory;
  const std::string config = write_config(directory, text);
  const CommandResult result =
      run_command(trainer_path() + " train " + config + " --set data.train.limit=6000 --out " +
                  directory.file("run"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.err.find("early stopping after epoch 2"), std::string::npos) << result.err;
  const SafetensorsFile last = SafetensorsFile::read(directory.file("run/last.safetensors"));
  const SafetensorsFile best = SafetensorsFile::read(directory.file("run/best.safetensors"));
  for (const std::string& name : last.names()) {
    if (!name.starts_with("weights/")) continue;
    const auto a = last.raw_bytes(name), b = best.raw_bytes(name);
    EXPECT_TRUE(std::equal(a.begin(), a.end(), b.begin(), b.end())) << name;
  }
}

TEST(RunLifecycle, ReduceLrOnPlateauCallbackLowersTheRate) {
  // On 6,000 images with a 20% validation split, val_loss rises after epoch 3 (measured):
  // with patience 1 and factor 0.2 the rate goes from RMSprop's 0.001 to 0.0002.
  TemporaryDirectory directory;
  const CommandResult result = run_command(
      trainer_path() + " train " + source_path("configs/fashion_mnist_mlp.yaml") +
      " --set trainer.epochs=4 --set data.train.limit=6000 --set data.validation_split=0.2"
      " --set 'trainer.callbacks={reduce_lr_on_plateau: {monitor: val_loss, factor: 0.2, patience: "
      "1}}'"
      " --threads 1 --out " +
      directory.file("run"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const SafetensorsFile last = SafetensorsFile::read(directory.file("run/last.safetensors"));
  const std::string scalars = last.metadata("optimizer_scalars");
  const size_t at = scalars.find("\"schedule/learning_rate\":");
  ASSERT_NE(at, std::string::npos) << scalars;
  EXPECT_NEAR(std::stod(scalars.substr(at + 25)), 0.0002, 1e-9) << scalars;
}

TEST(RunLifecycle, PredictAgreesWithEvaluateAndTheReportHoldsTheCurves) {
  TemporaryDirectory directory;
  const std::string config = write_config(directory);
  const std::string quick = " --set trainer.epochs=2 --set data.train.limit=6000";
  ASSERT_EQ(
      run_command(trainer_path() + " train " + config + quick + " --out " + directory.file("run"))
          .exit_code,
      0);
  const std::string weights = directory.file("run/last.safetensors");
  const CommandResult evaluated =
      run_command(trainer_path() + " evaluate " + config + quick + " --weights " + weights);
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
  const size_t at = evaluated.out.find("accuracy: ");
  ASSERT_NE(at, std::string::npos) << evaluated.out;
  const double accuracy = std::stod(evaluated.out.substr(at + 10));
  EXPECT_NE(evaluated.out.find("confusion matrix"), std::string::npos);

  // The same 2,000 test images, one idx file, through predict.
  const IdxArray images = read_idx("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz");
  const IdxArray labels = read_idx("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz");
  IdxArray slice{{2000, 28, 28},
                 std::vector<uint8_t>(images.data.begin(), images.data.begin() + 2000 * 784)};
  write_idx(directory.file("images.idx"), slice);
  const CommandResult predicted = run_command(
      trainer_path() + " predict " + config + quick + " --weights " + weights + " --input " +
      directory.file("images.idx") + " --output " + directory.file("p.csv"));
  ASSERT_EQ(predicted.exit_code, 0) << predicted.err;
  std::ifstream csv(directory.file("p.csv"));
  std::string line;
  std::getline(csv, line);
  EXPECT_EQ(line.substr(0, 12), "index,p0,p1,");
  int64_t rows = 0, correct = 0;
  while (std::getline(csv, line)) {
    const int predicted_class = std::stoi(line.substr(line.rfind(',') + 1));
    correct += predicted_class == labels.data[size_t(rows)];
    ++rows;
  }
  EXPECT_EQ(rows, 2000);
  EXPECT_NEAR(double(correct) / double(rows), accuracy, 1e-4);

  // report.html: self-contained, one chart per quantity, the confusion matrix, the graph.
  std::ifstream in(directory.file("run/report.html"));
  const std::string html((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_TRUE(html.starts_with("<!DOCTYPE html>"));
  EXPECT_NE(html.find("aria-label=\"loss\""), std::string::npos);
  EXPECT_NE(html.find("aria-label=\"accuracy\""), std::string::npos);
  EXPECT_NE(html.find("<polyline"), std::string::npos);
  EXPECT_NE(html.find("class=\"confusion\""), std::string::npos);
  EXPECT_NE(html.find("fused_matmul"), std::string::npos);  // the graph picture
  // Self-contained: nothing is fetched (the only URLs are SVG's namespace names).
  EXPECT_EQ(html.find("src="), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  // Well-formed: every opened element is closed, in order (void elements aside).
  std::vector<std::string> open;
  for (size_t position = html.find('<'); position != std::string::npos;
       position = html.find('<', position + 1)) {
    if (html.compare(position, 2, "<!") == 0 || html.compare(position, 2, "<?") == 0) continue;
    const size_t end = html.find('>', position);
    ASSERT_NE(end, std::string::npos);
    std::string tag = html.substr(position + 1, end - position - 1);
    const bool closing = tag.starts_with("/");
    const bool self_closing = tag.ends_with("/");
    std::string name =
        tag.substr(closing ? 1 : 0, tag.find_first_of(" /\n", closing ? 1 : 0) - (closing ? 1 : 0));
    if (self_closing || name == "meta" || name == "br") continue;
    if (closing) {
      ASSERT_FALSE(open.empty()) << "</" << name << "> closes nothing";
      ASSERT_EQ(open.back(), name) << "at offset " << position;
      open.pop_back();
    } else {
      open.push_back(name);
    }
  }
  EXPECT_TRUE(open.empty());
}

}  // namespace
}  // namespace loom::testing
