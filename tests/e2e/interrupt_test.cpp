// SIGINT and SIGTERM at random moments of a run (setup, the middle of an epoch, an epoch's
// evaluation, a checkpoint being written), sometimes twice: the trainer must always exit with
// 130, never crash, and leave either nothing (stopped during setup) or a run that --resume
// continues to the end. Signals used to be caught by a handler on whichever thread the kernel
// chose, oneDNN's JIT code included, and corrupted the heap about one time in three.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <thread>

#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr const char* kDataRoot = "/usr/share/datasets/fashion-mnist";
constexpr int kInterrupted = 130;

// The book's configs on small slices of the 10k test images (quick to load), two epochs, a
// checkpoint every 3 steps and a test evaluation after each epoch: every kind of moment is a
// sizeable share of the run.
// `limit` training images: enough that training, not setup, fills most of the run (a fast
// AVX-512 machine trains 512 images of the convnet in 0.04 s, a fifth of its setup).
std::vector<std::string> run_arguments(const std::string& config, const fs::path& out, int limit) {
  return {trainer_path(),
          "train",
          source_path(config),
          "--out",
          out.string(),
          "--set",
          "data.train.images=t10k-images-idx3-ubyte.gz",
          "--set",
          "data.train.labels=t10k-labels-idx1-ubyte.gz",
          "--set",
          "data.train.limit=" + std::to_string(limit),
          "--set",
          "data.test.limit=256",
          "--set",
          "trainer.epochs=2",
          "--set",
          "trainer.callbacks.checkpoint.every_steps=3"};
}

std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Waits at most a minute; a trainer that does not end by then has hung.
int wait_for_exit(pid_t pid) {
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (Clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ADD_FAILURE() << "the trainer did not exit within a minute of the signal";
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (WIFSIGNALED(status)) return 1000 + WTERMSIG(status);  // a crash, reported as such
  return WEXITSTATUS(status);
}

struct Tally {
  int while_loading = 0;  // before the trainer's first instruction: ended by the signal
  int during_setup = 0;   // exited 130 with nothing written
  int resumed = 0;        // exited 130 with a checkpoint that --resume finished
  int finished = 0;       // the signal came after the run had ended its work
};

void interrupt_at_random_moments(const std::string& config, int limit, int trials, unsigned seed) {
  if (!fs::is_directory(kDataRoot)) GTEST_SKIP() << kDataRoot << " is not installed";
  TemporaryDirectory scratch;
  // How long a whole run takes here: signals are spread over that.
  const auto start = Clock::now();
  const pid_t calibration =
      spawn_process(run_arguments(config, scratch.file("whole"), limit), scratch.file("whole.log"));
  ASSERT_EQ(wait_for_exit(calibration), 0) << read_text(scratch.file("whole.log"));
  const double whole_run = std::chrono::duration<double>(Clock::now() - start).count();

  std::mt19937 random(seed);
  // The last part of a run is writing the report and exiting: a signal there finds the work
  // done and the run ends normally, which tests little.
  std::uniform_real_distribution<double> moment(0.0, 0.85 * whole_run);
  Tally tally;
  for (int trial = 0; trial < trials; ++trial) {
    const fs::path run = scratch.file("run" + std::to_string(trial));
    const std::string log = scratch.file("log" + std::to_string(trial));
    const pid_t pid = spawn_process(run_arguments(config, run, limit), log);
    std::this_thread::sleep_for(std::chrono::duration<double>(moment(random)));
    const int signal_number = trial % 2 == 0 ? SIGINT : SIGTERM;
    kill(pid, signal_number);
    if (trial % 4 == 1) {  // a second signal while the first is being handled
      std::this_thread::sleep_for(std::chrono::milliseconds(random() % 40));
      kill(pid, signal_number == SIGINT ? SIGTERM : SIGINT);
    }
    const int code = wait_for_exit(pid);
    const std::string output = read_text(log);
    if (code == 1000 + signal_number && output.empty() && !fs::exists(run)) {
      // The signal came while the program was still being loaded, before its first
      // instruction could block it: the default action ended it, as any program, with
      // nothing written.
      ++tally.while_loading;
      continue;
    }
    ASSERT_TRUE(code == kInterrupted || code == 0)
        << "trial " << trial << ": exit " << code << " (over 1000: killed by that signal - 1000)\n"
        << output;
    EXPECT_EQ(output.find("corrupted"), std::string::npos) << output;
    if (code == 0) {
      ++tally.finished;
      continue;
    }
    if (!fs::exists(run / "last.safetensors")) {
      // Stopped before the first step: nothing at all may have been written.
      EXPECT_FALSE(fs::exists(run))
          << "trial " << trial << ": a run directory without a checkpoint\n"
          << output;
      EXPECT_NE(output.find("nothing was written"), std::string::npos) << output;
      ++tally.during_setup;
      continue;
    }
    const auto resumed = run_command(loom::testing::quoted(trainer_path()) + " train --resume " +
                                     loom::testing::quoted(run.string()) + " 2>&1");
    ASSERT_EQ(resumed.exit_code, 0) << "trial " << trial << ": --resume failed\n"
                                    << resumed.out << "\nthe interrupted run said:\n"
                                    << output;
    // Both epochs are in the history (a header line and one line each), as in the whole run.
    const auto lines = [](const std::string& text) { return std::ranges::count(text, '\n'); };
    EXPECT_EQ(lines(read_text(run / "history.csv")),
              lines(read_text(scratch.file("whole/history.csv"))))
        << "trial " << trial;
    ++tally.resumed;
  }
  std::printf(
      "%d signals: %d while the program was loading, %d during setup (nothing "
      "written), %d resumed to the end, %d after the run's work was done\n",
      trials, tally.while_loading, tally.during_setup, tally.resumed, tally.finished);
  EXPECT_GE(tally.resumed, trials / 3) << "too few signals landed while training";
}

// 100 signals in all; a sanitizer build (several times slower) may ask for fewer.
int trials(int fraction_of_hundred) {
  const char* override = std::getenv("LOOM_INTERRUPT_TRIALS");
  const int total = override ? std::atoi(override) : 100;
  return std::max(1, total * fraction_of_hundred / 100);
}

TEST(Interrupts, BookMlpAtRandomMomentsAlwaysExits130AndResumes) {
  interrupt_at_random_moments("configs/fashion_mnist_mlp.yaml", 512, trials(60), 11);
}

TEST(Interrupts, BookConvnetAtRandomMomentsAlwaysExits130AndResumes) {
  interrupt_at_random_moments("configs/fashion_mnist_convnet.yaml", 2048, trials(40), 12);
}

}  // namespace
}  // namespace loom::testing
