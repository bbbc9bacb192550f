// What an attacker (or an unlucky user) can hand the trainer besides a bad config: files that
// are not files, files too large to be configs, run directories that belong to another run or
// to a running trainer, names that climb out of runs/, and flags or environment variables out
// of range. Each must end in one line, exit code 2, without waiting forever and without
// touching anything that was already there.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom {
namespace {

namespace fs = std::filesystem;
using namespace testing;  // the trainer runner, temporary directories, the rejection contract

constexpr const char* kDataRoot = "/usr/share/datasets/fashion-mnist";

std::string book_config() {
  return source_path("configs/fashion_mnist_mlp.yaml");
}

// `timeout` turns a hang into exit code 124 instead of a stuck suite.
testing::CommandResult trainer(const std::string& arguments) {
  return run_command("timeout 60 " + quoted(trainer_path()) + " " + arguments);
}

// A short run: a slice of the data, one epoch.
std::string short_run(const std::string& out) {
  return "train " + quoted(book_config()) +
         " --set data.train.limit=256 --set trainer.epochs=1 --threads 1 --out " + quoted(out);
}

void expect_rejected(const testing::CommandResult& result, const std::string& text) {
  if (!expect_one_error_line(result)) return;
  EXPECT_NE(result.err.find(text), std::string::npos) << "expected: " << text << "\n" << result.err;
}

// ---- files that are not regular files --------------------------------------------------------

TEST(NonRegularFiles, ConfigThatIsAFifoIsRefusedWithoutWaitingForAWriter) {
  TemporaryDirectory scratch;
  const std::string fifo = scratch.file("config.yaml");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  expect_rejected(trainer("graph " + quoted(fifo)), "is a FIFO (named pipe), not a regular file");
}

TEST(NonRegularFiles, ConfigThatIsADirectoryOrADeviceIsRefused) {
  TemporaryDirectory scratch;
  expect_rejected(trainer("graph " + quoted(scratch.path())), "is a directory, not a regular file");
  expect_rejected(trainer("graph /dev/zero"), "/dev/zero: is a character device");
  expect_rejected(trainer("graph /dev/urandom"), "/dev/urandom: is a character device");
}

TEST(NonRegularFiles, DataFileThatIsAFifoOrADeviceIsNamedAtItsKey) {
  if (!fs::is_directory(kDataRoot)) GTEST_SKIP() << kDataRoot << " is not installed";
  TemporaryDirectory scratch;
  const std::string fifo = scratch.file("images.gz");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string run = scratch.file("run");
  expect_rejected(trainer(short_run(run) + " --set data.train.images=" + fifo),
                  "data.train.images: data file " + fifo + ": is a FIFO");
  expect_rejected(trainer(short_run(run) + " --set data.test.labels=/dev/zero"),
                  "data.test.labels: data file /dev/zero: is a character device");
  EXPECT_FALSE(fs::exists(run));
}

TEST(NonRegularFiles, PluginThatIsAFifoIsRefused) {
  TemporaryDirectory scratch;
  const std::string fifo = scratch.file("libop.so");
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  expect_rejected(trainer("gradcheck --op relu --shape 4 --plugin " + quoted(fifo)),
                  "is a FIFO (named pipe), not a regular file");
}

TEST(ConfigLimits, AConfigLargerThanTheLimitIsRefusedBeforeParsing) {
  TemporaryDirectory scratch;
  const std::string big = scratch.file("big.yaml");
  {
    std::ofstream out(big);
    out << "name: big\n# " << std::string(17u << 20, 'x') << "\n";
  }
  expect_rejected(trainer("graph " + quoted(big)), "more than the limit of 16.0 MiB");
}

TEST(ConfigLimits, ARecursiveAliasInASetIsNamedByItsFlag) {
  expect_rejected(trainer("graph " + quoted(book_config()) + " --set 'x=&a [1, *a]'"),
                  "--set x=&a [1, *a]:1:1: x: this value contains itself through an alias");
}

TEST(ConfigLimits, AListIndexTooLargeForAnyIntegerIsAnError) {
  expect_rejected(trainer("graph " + quoted(book_config()) +
                          " --set model.layers.99999999999999999999.dense=5"),
                  "'99999999999999999999' is not an index into the list");
}

// ---- run directories ---------------------------------------------------------------------

TEST(RunDirectories, ANewRunRefusesADirectoryHoldingAnotherRunAndLeavesItAlone) {
  if (!fs::is_directory(kDataRoot)) GTEST_SKIP() << kDataRoot << " is not installed";
  TemporaryDirectory scratch;
  const std::string run = scratch.file("run");
  fs::create_directories(run);
  std::ofstream(run + "/history.csv") << "epoch,loss\n1,0.5\n";
  expect_rejected(trainer(short_run(run)), "the directory is not empty (history.csv)");
  std::ifstream kept(run + "/history.csv");
  std::string first;
  std::getline(kept, first);
  EXPECT_EQ(first, "epoch,loss");
  EXPECT_FALSE(fs::exists(run + "/config.yaml"));
}

TEST(RunDirectories, OverwriteReplacesTheRunFilesAndNothingElse) {
  if (!fs::is_directory(kDataRoot)) GTEST_SKIP() << kDataRoot << " is not installed";
  TemporaryDirectory scratch;
  const std::string run = scratch.file("run");
  fs::create_directories(run);
  std::ofstream(run + "/best.safetensors") << "an old run's best weights";
  std::ofstream(run + "/notes.txt") << "the user's own file";
  const auto result = trainer(short_run(run) + " --overwrite");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(fs::exists(run + "/last.safetensors"));
  std::ifstream best(run + "/best.safetensors");
  std::string head(26, '\0');
  best.read(head.data(), 26);
  EXPECT_NE(head, "an old run's best weights") << "a stale checkpoint of the old run";
  EXPECT_TRUE(fs::exists(run + "/notes.txt"));
}

TEST(RunDirectories, ALockedRunDirectoryNamesTheHoldersPid) {
  if (!fs::is_directory(kDataRoot)) GTEST_SKIP() << kDataRoot << " is not installed";
  TemporaryDirectory scratch;
  const std::string run = scratch.file("run");
  fs::create_directories(run);
  // Hold the lock as a running trainer does.
  const int lock = ::open((run + "/.lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(lock, 0);
  ASSERT_EQ(::flock(lock, LOCK_EX | LOCK_NB), 0);
  ASSERT_EQ(::pwrite(lock, "4242\n", 5, 0), 5);
  expect_rejected(trainer(short_run(run)), "in use by another trainer (pid 4242)");
  EXPECT_FALSE(fs::exists(run + "/config.yaml"));
  ::close(lock);
  // Released (as the kernel does when the holder exits, however it exits): the run proceeds.
  EXPECT_EQ(trainer(short_run(run)).exit_code, 0);
}

TEST(RunDirectories, ResumingALockedRunIsRefused) {
  if (!fs::is_directory(kDataRoot)) GTEST_SKIP() << kDataRoot << " is not installed";
  TemporaryDirectory scratch;
  const std::string run = scratch.file("run");
  ASSERT_EQ(trainer(short_run(run)).exit_code, 0);
  const auto before = fs::last_write_time(run + "/last.safetensors");
  const int lock = ::open((run + "/.lock").c_str(), O_RDWR);
  ASSERT_GE(lock, 0);
  ASSERT_EQ(::flock(lock, LOCK_EX | LOCK_NB), 0);
  expect_rejected(trainer("train --resume " + quoted(run)), "in use by another trainer");
  ::close(lock);
  EXPECT_EQ(fs::last_write_time(run + "/last.safetensors"), before);
}

TEST(RunDirectories, GeneratedNamesStayInsideRuns) {
  if (!fs::is_directory(kDataRoot)) GTEST_SKIP() << kDataRoot << " is not installed";
  TemporaryDirectory scratch;
  const std::string work = scratch.file("a/b/c");
  fs::create_directories(work);
  const std::string command =
      "cd " + quoted(work) + " && timeout 60 " + quoted(trainer_path()) + " train " +
      quoted(book_config()) +
      " --set data.train.limit=256 --set trainer.epochs=1 --threads 1 --set name=../../escaped";
  const auto first = run_command(command);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  const auto second = run_command(command);  // the same second, most likely: a new directory
  ASSERT_EQ(second.exit_code, 0) << second.err;
  int inside = 0;
  for (const auto& entry : fs::directory_iterator(work + "/runs")) {
    EXPECT_TRUE(entry.path().filename().string().starts_with("_.._escaped-")) << entry.path();
    ++inside;
  }
  EXPECT_EQ(inside, 2);
  EXPECT_FALSE(fs::exists(scratch.file("a/escaped"))) << "a run escaped runs/";
  EXPECT_EQ(std::distance(fs::directory_iterator(scratch.file("a")), {}), 1);
}

// ---- flags and environment ----------------------------------------------------------------

struct FlagCase {
  std::string arguments;
  std::string environment;
  std::string expected;
};

class BadFlagTest : public ::testing::TestWithParam<FlagCase> {};

TEST_P(BadFlagTest, IsOneLineAndWritesNothing) {
  TemporaryDirectory scratch;
  const std::string run = scratch.file("run");
  std::string arguments = GetParam().arguments;
  for (size_t at; (at = arguments.find("CONFIG")) != std::string::npos;) {
    arguments.replace(at, 6, quoted(book_config()));
  }
  for (size_t at; (at = arguments.find("RUN")) != std::string::npos;) {
    arguments.replace(at, 3, quoted(run));
  }
  const auto result = run_command(GetParam().environment + " timeout 60 " + quoted(trainer_path()) +
                                  " " + arguments);
  expect_rejected(result, GetParam().expected);
  EXPECT_FALSE(fs::exists(run));
}

INSTANTIATE_TEST_SUITE_P(
    Flags, BadFlagTest,
    ::testing::Values(
        FlagCase{"trian CONFIG", "", "unknown command 'trian' (did you mean 'train'?)"},
        FlagCase{"train CONFIG --out RUN --threads 100000", "", "--threads 100000: expected"},
        FlagCase{"train CONFIG --out RUN --threads -3", "", "--threads -3: expected"},
        FlagCase{"train CONFIG --out RUN", "LOOM_THREADS=-3", "LOOM_THREADS=-3: expected"},
        FlagCase{"train CONFIG --out RUN", "LOOM_THREADS=lots", "LOOM_THREADS=lots: expected"},
        FlagCase{"train CONFIG --out RUN --seed -1", "", "--seed -1: expected a whole number"},
        FlagCase{"train CONFIG --out RUN --seed 18446744073709551616", "",
                 "--seed 18446744073709551616: expected"},
        FlagCase{"gradcheck --op relu --shape 4,4 --step nan", "", "--step nan: expected"},
        FlagCase{"gradcheck --op relu --shape 4,4 --step 1e308", "", "--step 1e+308: expected"},
        FlagCase{"gradcheck --op add --shape 4 --shape 4 --fixed 7", "", "--fixed 7:"},
        FlagCase{"gradcheck --op bias_add --shape 4,3", "", "the op takes 2 inputs (x, bias)"},
        FlagCase{"gradcheck --op relu --shape 4 --low 5 --high -5", "", "expected low < high"},
        FlagCase{"gradcheck --op relu --shape 4294967296,4294967296", "", "more than 65536"},
        FlagCase{"gradcheck --op relu --shape 4,0", "", "expected positive sizes"},
        FlagCase{"gradcheck --op relu --shape 4,4 --elements 99999999999999999999", "",
                 "--elements 99999999999999999999: expected a whole number from 1 to 65536"},
        FlagCase{"gradcheck --op relu --shape 4,4 --elements 0", "",
                 "--elements 0: expected a whole number from 1 to 65536"},
        FlagCase{"gradcheck configs/none.yaml --batch 1e20", "",
                 "--batch 1e20: expected a whole number from 1 to 1024"},
        FlagCase{"gradcheck --op relu --shape 4,4 --step 1e-9", "", "--step 1e-09: expected"},
        FlagCase{"bench CONFIG --steps 100000000", "", "--steps"}));

TEST(GradcheckFlags, CheckingNoElementIsAFailureNotAPass) {
  const auto result = trainer("gradcheck --op add --shape 4 --shape 4 --fixed 0 --fixed 1");
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_NE(result.err.find("compared no element"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace loom
