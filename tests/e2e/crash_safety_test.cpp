// Checkpoints survive whatever stops a run: SIGKILL at random moments while checkpoints are
// being written, and a disk that fills up. What is on disk must always be a complete
// checkpoint, old or new, never a torn one.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include "engine/core/error.hpp"
#include "engine/train/safetensors.hpp"
#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

namespace fs = std::filesystem;

// Small enough that a step is short, so most of a run's time goes to writing the checkpoint
// it saves after every step: a random kill lands in the middle of a write more often than not.
const char* kConfig = R"(name: crash_safety
seed: 3
data:
  root: /usr/share/datasets/fashion-mnist
  train: {images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz, limit: 2000}
model:
  input: [784]
  layers:
    - {dense: 16, activation: relu}
    - {dense: 10, activation: softmax}
trainer:
  optimizer: rmsprop
  loss: categorical_crossentropy
  epochs: 1000
  callbacks: {checkpoint: {every_steps: 1}}
)";

constexpr int64_t kStepsPerEpoch = 63;  // 2000 samples in batches of 32

std::string write_config(const TemporaryDirectory& directory) {
  const std::string file = directory.file("crash_safety.yaml");
  std::ofstream(file) << kConfig;
  return file;
}

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The optimizer step a checkpoint was taken at; throws InputError if the file is torn.
int64_t checkpoint_step(const fs::path& file) {
  const SafetensorsFile checkpoint = SafetensorsFile::read(file);
  return std::stoll(checkpoint.metadata("epoch")) * kStepsPerEpoch +
         std::stoll(checkpoint.metadata("step_in_epoch"));
}

bool wait_for_file(const fs::path& file) {
  for (int attempt = 0; attempt < 3000 && !fs::exists(file); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return fs::exists(file);
}

void kill_and_reap(pid_t pid) {
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
}

TEST(CrashSafety, SigkillAtRandomMomentsNeverLeavesATornCheckpoint) {
  TemporaryDirectory directory;
  const std::string config = write_config(directory);
  const fs::path run = fs::path(directory.path()) / "run";
  const std::string log = directory.file("train.out");
  const auto start = std::chrono::steady_clock::now();
  pid_t pid = spawn_process(
      {trainer_path(), "train", config, "--threads", "1", "--out", run.string()}, log);
  ASSERT_TRUE(wait_for_file(run / "last.safetensors")) << read_bytes(log);
  // Kills spread over twice the time a run takes to reach its first checkpoint (at least
  // 600 ms), so that resumed runs train between them also where starting is slow (a
  // sanitizer build starts in most of a second).
  const auto to_first_checkpoint = std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::steady_clock::now() - start)
                                       .count();

  constexpr int kKills = 40;
  std::mt19937 random(2026);
  std::uniform_int_distribution<int> delay_ms(20, std::max(600, 2 * int(to_first_checkpoint)));
  int torn = 0;
  int64_t first_step = -1, last_step = -1;
  for (int kill_number = 0; kill_number < kKills; ++kill_number) {
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms(random)));
    kill_and_reap(pid);
    for (const char* name : {"last.safetensors", "best.safetensors"}) {
      if (!fs::exists(run / name)) continue;
      try {
        const int64_t step = checkpoint_step(run / name);
        if (std::string(name) == "last.safetensors") {
          if (first_step < 0) first_step = step;
          last_step = step;
        }
      } catch (const InputError& error) {
        ++torn;
        ADD_FAILURE() << "after kill " << kill_number << ": " << error.what();
      }
    }
    pid = spawn_process({trainer_path(), "train", "--resume", run.string(), "--threads", "1"}, log);
  }
  kill_and_reap(pid);
  EXPECT_EQ(torn, 0);
  // The kills hit a run that was training, not only ones starting up.
  EXPECT_GT(last_step, first_step) << "no checkpoint was written between kills";
  std::cout << kKills << " kills, " << torn << " torn checkpoints, steps " << first_step << " -> "
            << last_step << "\n";
}

// A small tmpfs stands in for a full disk; mounting one needs root (CI runs as root).
class FullDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    disk_ = fs::path(directory_.path()) / "disk";
    fs::create_directory(disk_);
    const CommandResult mount = run_command("mount -t tmpfs -o size=512k tmpfs " + disk_.string());
    if (mount.exit_code != 0) GTEST_SKIP() << "cannot mount a tmpfs here: " << mount.err;
    mounted_ = true;
  }
  void TearDown() override {
    if (mounted_) run_command("umount " + disk_.string());
  }
  TemporaryDirectory directory_;
  fs::path disk_;
  bool mounted_ = false;
};

TEST_F(FullDisk, GivesAClearErrorAndKeepsTheOldCheckpoint) {
  const std::string config = write_config(directory_);
  const fs::path finished = fs::path(directory_.path()) / "finished";
  const CommandResult first = run_command(trainer_path() + " train " + config +
                                          " --set trainer.epochs=1 --out " + finished.string());
  ASSERT_EQ(first.exit_code, 0) << first.err;

  // The finished run on the small disk, and the rest of the disk filled.
  const fs::path run = disk_ / "run";
  fs::copy(finished, run);
  run_command("dd if=/dev/zero of=" + (disk_ / "filler").string() + " bs=4k");
  const std::string last_before = read_bytes(run / "last.safetensors");
  const std::string best_before = read_bytes(run / "best.safetensors");

  const CommandResult resumed =
      run_command(trainer_path() + " train --resume " + run.string() + " --set trainer.epochs=2");
  EXPECT_NE(resumed.exit_code, 0);
  EXPECT_NE(resumed.err.find("No space left on device"), std::string::npos) << resumed.err;
  EXPECT_NE(resumed.err.find(run.string()), std::string::npos) << resumed.err;
  EXPECT_EQ(read_bytes(run / "last.safetensors"), last_before);
  EXPECT_EQ(read_bytes(run / "best.safetensors"), best_before);
  EXPECT_FALSE(fs::exists(run / "last.safetensors.tmp"));
  EXPECT_FALSE(fs::exists(run / "best.safetensors.tmp"));
}

}  // namespace
}  // namespace loom::testing
