// Checkpoints that cannot be trusted are refused: an edit anywhere in the file (metadata
// included) fails the checksum; a checkpoint resealed with a correct checksum around an
// out-of-range field is refused naming the field and its range; weights holding NaN or an
// infinity are refused naming the tensor; a FIFO, a directory or a device is refused before
// it is opened. The trainer is run as a user runs it: exit code 2, one line naming the file,
// and the run directory exactly as it was.

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/config/experiment.hpp"
#include "engine/core/error.hpp"
#include "engine/data/idx.hpp"
#include "engine/train/safetensors.hpp"
#include "engine/train/trainer.hpp"
#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom {
namespace {

namespace fs = std::filesystem;
using namespace testing;  // the trainer runner, temporary directories, the rejection contract

std::string read_text(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_text(const fs::path& file, const std::string& text) {
  std::ofstream(file, std::ios::binary | std::ios::trunc) << text;
}

// Every file of a directory and its bytes: "nothing changed" is this, equal before and after.
std::map<std::string, std::string> snapshot(const fs::path& directory) {
  std::map<std::string, std::string> files;
  for (const auto& entry : fs::directory_iterator(directory)) {
    files[entry.path().filename().string()] =
        entry.is_regular_file() ? read_text(entry.path()) : std::string("<not a file>");
  }
  return files;
}

// 8 training samples of 2x2 pixels in batches of 2 (4 steps an epoch), 2 epochs; a schedule
// with state, early stopping with best weights kept, so every kind of field is in the file.
void write_experiment(const fs::path& root) {
  const auto idx = [&](const std::string& name, std::vector<int64_t> dims) {
    IdxArray array{.dims = dims, .data = {}};
    int64_t count = 1;
    for (int64_t d : dims) count *= d;
    for (int64_t i = 0; i < count; ++i) {
      array.data.push_back(uint8_t(dims.size() == 1 ? i % 10 : i * 37));
    }
    write_idx(root / name, array);
  };
  idx("train-images", {8, 2, 2});
  idx("train-labels", {8});
  idx("test-images", {4, 2, 2});
  idx("test-labels", {4});
  write_text(root / "experiment.yaml",
             "name: checkpoint_test\nseed: 1\ndata:\n  root: '" + root.string() +
                 "'\n"
                 "  train: {format: idx, images: train-images, labels: train-labels}\n"
                 "  test: {format: idx, images: test-images, labels: test-labels}\n"
                 "model:\n  input: [4]\n  layers:\n    - {dense: 10, activation: softmax}\n"
                 "trainer:\n"
                 "  optimizer: {rmsprop: {learning_rate: {reduce_on_plateau: "
                 "{initial_learning_rate: 0.01, monitor: loss, patience: 1, cooldown: 2}}}}\n"
                 "  loss: sparse_categorical_crossentropy\n  metrics: [accuracy]\n"
                 "  batch_size: 2\n  epochs: 2\n"
                 "  callbacks:\n"
                 "    early_stopping: {monitor: loss, patience: 5, restore_best_weights: true}\n");
}

// A copy of the good checkpoint with some metadata and tensors replaced, sealed again with a
// correct checksum (the range checks are what is tested, not the checksum).
using TensorEdit = std::function<void(const std::string& name, std::vector<std::byte>& bytes)>;

void reseal(const fs::path& from, const fs::path& to,
            const std::map<std::string, std::string>& metadata_edits,
            const TensorEdit& tensor_edit = {}) {
  const SafetensorsFile good = SafetensorsFile::read(from);
  std::map<std::string, std::string> metadata = good.metadata();
  for (const auto& [key, value] : metadata_edits) metadata[key] = value;
  std::vector<std::vector<std::byte>> storage;
  std::vector<TensorBytes> tensors;
  for (const std::string& name : good.names()) {
    TensorBytes tensor = good.tensor(name);
    auto& bytes = storage.emplace_back(tensor.data.begin(), tensor.data.end());
    if (tensor_edit) tensor_edit(name, bytes);
    tensors.push_back({name, tensor.dtype, tensor.shape, {}});
  }
  for (size_t i = 0; i < tensors.size(); ++i) tensors[i].data = storage[i];
  write_safetensors(to, tensors, metadata);
}

// Sets element `index` of tensor `target` to `value`.
template <typename T>
TensorEdit set_element(const std::string& target, size_t index, T value) {
  return [=](const std::string& name, std::vector<std::byte>& bytes) {
    if (name == target) std::memcpy(bytes.data() + index * sizeof(T), &value, sizeof(T));
  };
}

class CheckpointTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    scratch_ = std::make_unique<TemporaryDirectory>();
    root_ = scratch_->path();
    write_experiment(root_);
    const auto result = run_command(quoted(trainer_path()) + " train " + quoted(config()) +
                                    " --out " + quoted((root_ / "good").string()));
    ASSERT_EQ(result.exit_code, 0) << result.err;
  }
  static void TearDownTestSuite() { scratch_.reset(); }

  static std::string config() { return (root_ / "experiment.yaml").string(); }
  static fs::path good() { return root_ / "good" / "last.safetensors"; }

  // A run directory of its own for one case: the good run's files.
  static fs::path run_copy(const std::string& name) {
    const fs::path run = root_ / name;
    fs::remove_all(run);
    fs::copy(root_ / "good", run);
    return run;
  }

  // Runs the trainer with `arguments` (where the broken file is `file`) under a timeout, so a
  // hang fails instead of stalling the suite; expects the contract and `directory` untouched.
  static void expect_refused(const std::string& arguments, const fs::path& file,
                             const std::string& defect, const fs::path& directory) {
    const auto before = snapshot(directory);
    const auto result = run_command("timeout 60 " + quoted(trainer_path()) + " " + arguments);
    if (!expect_one_error_line(result)) return;
    EXPECT_NE(result.err.find(file.string()), std::string::npos)
        << "expected the file " << file << "\nstderr: " << result.err;
    EXPECT_NE(result.err.find(defect), std::string::npos)
        << "expected: " << defect << "\nstderr:   " << result.err;
    EXPECT_EQ(snapshot(directory), before) << "the run directory changed";
  }

  // `train --resume` of a run whose last checkpoint has these edits, resealed.
  static void expect_resume_refused(const std::string& name,
                                    const std::map<std::string, std::string>& edits,
                                    const std::string& defect, const TensorEdit& tensor_edit = {}) {
    const fs::path run = run_copy(name);
    reseal(good(), run / "last.safetensors", edits, tensor_edit);
    expect_refused("train --resume " + quoted(run.string()), run / "last.safetensors", defect, run);
  }

  static std::unique_ptr<TemporaryDirectory> scratch_;
  static fs::path root_;
};

std::unique_ptr<TemporaryDirectory> CheckpointTest::scratch_;
fs::path CheckpointTest::root_;

TEST_F(CheckpointTest, TheGoodOneResumesAndAResealedCopyToo) {
  const fs::path run = run_copy("resealed");
  reseal(good(), run / "last.safetensors", {});
  const auto result =
      run_command(quoted(trainer_path()) + " train --resume " + quoted(run.string()));
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

// ---- the checksum covers the header --------------------------------------------------------

TEST_F(CheckpointTest, AnEditedMetadataFieldFailsTheChecksum) {
  const fs::path run = run_copy("edited");
  std::string bytes = read_text(run / "last.safetensors");
  const std::string field = R"("iterations":"8")";
  const size_t at = bytes.find(field);
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, field.size(), R"("iterations":"9")");  // same length: only the value differs
  write_text(run / "last.safetensors", bytes);
  expect_refused("train --resume " + quoted(run.string()), run / "last.safetensors",
                 "checksum mismatch", run);
}

TEST_F(CheckpointTest, AnEditedTensorEntryFailsTheChecksum) {
  const fs::path run = run_copy("edited_entry");
  std::string bytes = read_text(run / "last.safetensors");
  const std::string field = R"("dtype":"U32")";  // the order, read as I32 by another tool
  const size_t at = bytes.find(field);
  ASSERT_NE(at, std::string::npos);
  bytes.replace(at, field.size(), R"("dtype":"I32")");
  write_text(run / "last.safetensors", bytes);
  expect_refused("train --resume " + quoted(run.string()), run / "last.safetensors",
                 "checksum mismatch", run);
}

// A file of the previous format: a checksum of the data alone, no loom.format.
TEST_F(CheckpointTest, ACheckpointThatPredatesHeaderChecksumsIsRefused) {
  const fs::path run = run_copy("old_format");
  const std::string header = R"({"__metadata__":{"loom.crc32":"0"}})";
  std::string bytes(8, '\0');
  bytes[0] = char(header.size());
  write_text(run / "last.safetensors", bytes + header);
  expect_refused("train --resume " + quoted(run.string()), run / "last.safetensors",
                 "predates header checksums", run);
}

TEST_F(CheckpointTest, AFileWithoutLoomChecksumIsRefused) {
  const std::string header = R"({"__metadata__":{"format":"pt"}})";
  std::string bytes(8, '\0');
  bytes[0] = char(header.size());
  const fs::path file = root_ / "foreign.safetensors";
  write_text(file, bytes + header);
  expect_refused("evaluate " + quoted(config()) + " --weights " + quoted(file.string()), file,
                 "no loom checksum", root_ / "good");
}

// ---- every field within its range ----------------------------------------------------------

TEST_F(CheckpointTest, EpochOutOfRange) {
  // 2 epochs: a finished run stores epoch 3, the next to run.
  expect_resume_refused("epoch_negative", {{"epoch", "-1"}},
                        "epoch: expected an integer from 1 to 3, found \"-1\"");
  expect_resume_refused("epoch_zero", {{"epoch", "0"}}, "epoch: expected an integer from 1 to 3");
  expect_resume_refused("epoch_huge", {{"epoch", "18446744073709551615"}},
                        "epoch: expected an integer from 1 to 3");
  expect_resume_refused("epoch_text", {{"epoch", "2x"}}, "epoch: expected an integer");
  expect_resume_refused("epoch_empty", {{"epoch", ""}}, "epoch: expected an integer");
}

TEST_F(CheckpointTest, StepBeyondTheEpoch) {
  expect_resume_refused("step_beyond", {{"epoch", "2"}, {"step_in_epoch", "4"}},
                        "step_in_epoch: expected an integer from 0 to 3, found \"4\"");
  expect_resume_refused("step_after_the_end", {{"step_in_epoch", "1"}},
                        "step_in_epoch: expected an integer from 0 to 0");
}

TEST_F(CheckpointTest, IterationsBeyondTheStepsTaken) {
  expect_resume_refused("iterations_926", {{"iterations", "926"}},
                        "iterations: expected an integer from 0 to 8, found \"926\"");
  expect_resume_refused("iterations_negative", {{"iterations", "-1"}},
                        "iterations: expected an integer from 0 to 8");
}

TEST_F(CheckpointTest, SeenAndLossSum) {
  expect_resume_refused("seen", {{"seen", "9"}}, "seen: expected an integer from 0 to 8");
  expect_resume_refused("seen_mid_epoch",
                        {{"epoch", "2"}, {"step_in_epoch", "1"}, {"iterations", "5"}},
                        "seen: expected an integer from 0 to 2");
  expect_resume_refused("loss_sum", {{"loss_sum", "null"}}, "loss_sum: expected a finite number");
  expect_resume_refused("loss_sum_text", {{"loss_sum", "nan"}}, "loss_sum: expected JSON");
}

TEST_F(CheckpointTest, OrderIsAPermutationOfTheTrainingSet) {
  expect_resume_refused(
      "order_out_of_range", {},
      "trainer/order[3]: expected a permutation of the 8 training indices, found 8 (out of range)",
      set_element<uint32_t>("trainer/order", 3, 8));
  expect_resume_refused("order_repeat", {}, "(a repeat)",
                        [](const std::string& name, std::vector<std::byte>& bytes) {
                          if (name == "trainer/order")
                            std::memcpy(bytes.data() + 4, bytes.data(), 4);
                        });
}

TEST_F(CheckpointTest, MetricState) {
  expect_resume_refused("metric_state_empty", {{"metric_state", "[]"}},
                        "metric_state: expected a list of 1, found []");
  expect_resume_refused("metric_state_short", {{"metric_state", "[[]]"}},
                        "metric_state[0] (accuracy): expected a list of 2");
  expect_resume_refused("metric_state_hits", {{"metric_state", "[[5.0,4.0]]"}},
                        "0 <= total <= count");
  expect_resume_refused("metric_state_count", {{"metric_state", "[[0.0,-4.0]]"}}, "a whole count");
}

TEST_F(CheckpointTest, RandomState) {
  expect_resume_refused("random_text", {{"shuffle_random", "not a generator"}},
                        "shuffle_random: expected the shuffle generator's state");
  std::string zeros;
  for (int i = 0; i < 312; ++i) zeros += "0 ";
  expect_resume_refused("random_zeros", {{"shuffle_random", zeros + "312"}},
                        "shuffle_random: expected the shuffle generator's state");
  expect_resume_refused("random_wraps", {{"shuffle_random", "18446744073709551616 1"}},
                        "shuffle_random: expected");
}

TEST_F(CheckpointTest, CallbackState) {
  expect_resume_refused("early_wait",
                        {{"early_stopping", R"({"best":1.0,"has_best":true,"wait":-1})"}},
                        "early_stopping.wait: expected an integer from 0 to 5, found -1");
  expect_resume_refused("early_best",
                        {{"early_stopping", R"({"best":null,"has_best":true,"wait":0})"}},
                        "early_stopping.best: expected a finite number");
  expect_resume_refused("best_has_best",
                        {{"best_checkpoint", R"({"best":1.0,"has_best":false,"wait":0})"}},
                        "best_checkpoint.has_best: expected true");
  expect_resume_refused("best_missing", {{"best_checkpoint", R"({"best":1.0})"}},
                        "best_checkpoint.has_best: expected a value, found none");
}

TEST_F(CheckpointTest, OptimizerAndScheduleState) {
  const std::string good_scalars = SafetensorsFile::read(good()).metadata("optimizer_scalars");
  std::string extra = good_scalars;
  extra.insert(1, R"("u_product":1.0,)");
  expect_resume_refused("scalars_extra", {{"optimizer_scalars", extra}},
                        "optimizer_scalars: expected an object of {schedule/learning_rate");
  std::string rate = good_scalars;
  rate.replace(rate.find("\"schedule/learning_rate\":0.01"),
               std::string("\"schedule/learning_rate\":0.01").size(),
               "\"schedule/learning_rate\":5.0");
  expect_resume_refused("scalars_rate", {{"optimizer_scalars", rate}},
                        "schedule/learning_rate from min_lr to the initial rate");
  std::string cooldown = good_scalars;
  cooldown.replace(cooldown.find("\"schedule/cooldown_counter\":0.0"),
                   std::string("\"schedule/cooldown_counter\":0.0").size(),
                   "\"schedule/cooldown_counter\":3.0");
  expect_resume_refused("scalars_cooldown", {{"optimizer_scalars", cooldown}},
                        "schedule/cooldown_counter a whole number from 0 to cooldown (2)");
  expect_resume_refused("velocity_negative", {},
                        "optimizer/dense/kernel/velocity holds a negative value",
                        set_element<float>("optimizer/dense/kernel/velocity", 3, -0.5f));
}

TEST_F(CheckpointTest, HistoryWellFormed) {
  expect_resume_refused("history_short", {{"history", "[]"}}, "history: expected a list of 2");
  const std::string history = SafetensorsFile::read(good()).metadata("history");
  std::string no_loss = history;
  const size_t at = no_loss.find("\"loss\": ");
  ASSERT_NE(at, std::string::npos);
  no_loss.replace(at, std::string("\"loss\": ").size(), "\"loss\": null, \"x\": ");
  expect_resume_refused("history_loss", {{"history", no_loss}},
                        "history[0].loss: expected a finite number, found null");
  std::string epoch = history;
  epoch.replace(epoch.find("\"epoch\": 1"), std::string("\"epoch\": 1").size(), "\"epoch\": 7");
  expect_resume_refused("history_epoch", {{"history", epoch}},
                        "history[0].epoch: expected an integer from 1 to 1, found 7");
}

// ---- non-finite weights --------------------------------------------------------------------

TEST_F(CheckpointTest, NaNWeightsAreRefusedByResume) {
  expect_resume_refused("nan_resume", {},
                        "weights/dense/kernel holds a non-finite value (NaN at element 7); "
                        "refusing to load it",
                        set_element<float>("weights/dense/kernel", 7, std::nanf("")));
  expect_resume_refused("inf_slot", {},
                        "optimizer/dense/bias/velocity holds a non-finite value (inf at element 2)",
                        set_element<float>("optimizer/dense/bias/velocity", 2, INFINITY));
  expect_resume_refused("nan_best", {}, "best_weights/dense/bias holds a non-finite value",
                        set_element<float>("best_weights/dense/bias", 0, std::nanf("")));
}

TEST_F(CheckpointTest, NaNWeightsAreRefusedByInitWeightsAndEvaluate) {
  const fs::path file = root_ / "nan.safetensors";
  reseal(good(), file, {}, set_element<float>("weights/dense/bias", 4, -INFINITY));
  const std::string defect =
      "weights/dense/bias holds a non-finite value (-inf at element 4); refusing to load it";
  expect_refused("evaluate " + quoted(config()) + " --weights " + quoted(file.string()), file,
                 defect, root_ / "good");
  const fs::path out = root_ / "init_out";
  expect_refused("train " + quoted(config()) + " --init-weights " + quoted(file.string()) +
                     " --out " + quoted(out.string()),
                 file, defect, root_ / "good");
  EXPECT_FALSE(fs::exists(out)) << "a run directory was made";
}

// ---- not a regular file --------------------------------------------------------------------

TEST_F(CheckpointTest, AFifoIsRefusedWithoutWaitingForAWriter) {
  const fs::path fifo = root_ / "fifo.safetensors";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  expect_refused("evaluate " + quoted(config()) + " --weights " + quoted(fifo.string()), fifo,
                 "is a FIFO (named pipe), not a regular file", root_ / "good");
  const fs::path out = root_ / "fifo_out";
  expect_refused("train " + quoted(config()) + " --init-weights " + quoted(fifo.string()) +
                     " --out " + quoted(out.string()),
                 fifo, "is a FIFO (named pipe), not a regular file", root_ / "good");
}

TEST_F(CheckpointTest, ADirectoryOrADeviceIsRefused) {
  expect_refused("evaluate " + quoted(config()) + " --weights " + quoted(root_.string()), root_,
                 "is a directory, not a regular file", root_ / "good");
  expect_refused("evaluate " + quoted(config()) + " --weights /dev/zero", "/dev/zero",
                 "is a character device, not a regular file", root_ / "good");
}

// ---- stopped runs resume exactly ------------------------------------------------------------

// Requests a stop after `steps` steps of the run (0: before the first).
class StopAfter final : public ProgressReporter {
 public:
  explicit StopAfter(int64_t steps) : remaining_(steps) { Trainer::stop_requested() = steps == 0; }
  ~StopAfter() override { Trainer::stop_requested() = false; }
  void epoch_begin(int64_t, int64_t, int64_t, std::span<const std::string>) override {}
  void step_end(int64_t, double, std::span<const double>) override {
    if (--remaining_ == 0) Trainer::stop_requested() = true;
  }
  void epoch_end(const EpochRecord&) override {}

 private:
  int64_t remaining_;
};

// A run stopped anywhere (before the first step, mid-epoch, right before an epoch's first
// step, whose checkpoint says step 0 and whose shuffle must then happen once, in the resumed
// run) resumes through every check to the uninterrupted run's weights, bit for bit.
TEST_F(CheckpointTest, StoppedRunsResumeThroughTheChecksToTheSameWeights) {
  const auto experiment = [&] {
    return parse_experiment(read_text(config()), config(), root_.string());
  };
  StopAfter never(-1);
  Trainer uninterrupted(experiment());
  ASSERT_EQ(uninterrupted.fit(never), FitOutcome::finished);
  for (const int64_t steps : {0, 2, 4, 7}) {  // 4 steps an epoch
    SCOPED_TRACE("stopped after " + std::to_string(steps) + " steps");
    const fs::path run = root_ / ("stopped_" + std::to_string(steps));
    fs::create_directories(run);
    Trainer stopped(experiment(), run);
    {
      StopAfter stop(steps);
      ASSERT_EQ(stopped.fit(stop), FitOutcome::interrupted);
    }
    Trainer resumed(experiment());
    resumed.resume(run / "last.safetensors");
    ASSERT_EQ(resumed.fit(never), FitOutcome::finished);
    for (const auto& [name, shape] : uninterrupted.parameters().shapes()) {
      const auto expected = uninterrupted.parameters().at(name);
      const auto actual = resumed.parameters().at(name);
      EXPECT_TRUE(std::equal(expected.begin(), expected.end(), actual.begin())) << name;
    }
  }
}

// ---- the safetensors reader's own checks, in process ---------------------------------------

// A file of the given header (sealed by hand is not possible: these fail before the checksum).
void expect_read_error(const fs::path& file, const std::string& header, size_t data_bytes,
                       const std::string& defect) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[size_t(i)] = char((header.size() >> (8 * i)) & 0xff);
  write_text(file, bytes + header + std::string(data_bytes, '\0'));
  try {
    SafetensorsFile::read(file);
    ADD_FAILURE() << "accepted: " << header;
  } catch (const InputError& error) {
    EXPECT_NE(std::string(error.what()).find(defect), std::string::npos) << error.what();
  }
}

TEST_F(CheckpointTest, TensorEntriesAreCheckedBeforeTheChecksum) {
  const fs::path file = root_ / "entries.safetensors";
  expect_read_error(file,
                    R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                    R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
                    12, "tensors 'a' and 'b' overlap");
  expect_read_error(file, R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 12,
                    "8 bytes after the last tensor belong to no tensor");
  expect_read_error(file, R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8,
                    "bytes 0 to 4 of the data belong to no tensor");
  // 2^62 · 2^62 · 4 bytes wraps to 0 in 64 bits: the product is checked, not wrapped.
  expect_read_error(file,
                    R"({"a":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904],)"
                    R"("data_offsets":[0,0]}})",
                    0, "a size that does not match its shape");
  expect_read_error(file, R"({"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4,
                    "a dimension is not an integer");
  expect_read_error(file, R"({"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4,
                    "a dimension is not an integer");
  expect_read_error(file, R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4.0]}})", 4,
                    "data_offsets is not a pair of non-negative integers");
  expect_read_error(file, R"({"a":{"dtype":"F32","shape":3,"data_offsets":[0,12]}})", 12,
                    "its shape is not a list");
}

}  // namespace
}  // namespace loom
