#pragma once
// Keras-style progress: on a terminal a live bar redrawn in place (at most ~10 times a
// second, so the training loop pays almost nothing for it); otherwise one plain line per epoch.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>

namespace loom {

struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  double loss = 0;
  double accuracy = 0;
  double test_loss = 0;
  double test_accuracy = 0;
  bool has_test = false;
  double seconds = 0;             // the whole epoch, test evaluation included
  double samples_per_second = 0;  // training samples over the training pass's time
};

class ProgressReporter {
 public:
  virtual ~ProgressReporter() = default;
  virtual void epoch_begin(int64_t epoch, int64_t epochs, int64_t steps) = 0;
  // Called after every step; must be cheap (no allocation, rare output).
  virtual void step_end(int64_t step, double loss, double accuracy) = 0;
  virtual void epoch_end(const EpochRecord& record) = 0;
};

// The live bar when `out` is a terminal, plain lines when it is not.
std::unique_ptr<ProgressReporter> make_progress_reporter(std::FILE* out);
// No output at all (tests, benchmarks).
std::unique_ptr<ProgressReporter> make_silent_reporter();

}  // namespace loom
