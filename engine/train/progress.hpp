#pragma once
// Keras-style progress: on a terminal a live bar redrawn in place (at most ~10 times a
// second, so the training loop pays almost nothing for it); otherwise one plain line per epoch.

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace loom {

struct EpochRecord {
  int64_t epoch = 0;  // 1-based
  double loss = 0;
  std::vector<double> metrics;  // in the order of the experiment's metrics
  bool has_validation = false;
  double val_loss = 0;
  std::vector<double> val_metrics;
  bool has_test = false;
  double test_loss = 0;
  std::vector<double> test_metrics;
  // The optimizer's learning rate at the epoch's end, before callbacks change it (Keras's
  // history "learning_rate"); NaN when unknown (a history from an older checkpoint).
  double learning_rate = 0;
  double seconds = 0;             // the whole epoch, test evaluation included
  double samples_per_second = 0;  // training samples over the training pass's time
};

// "loss", "accuracy", ..., "val_loss", ..., "test_loss", ...: what callbacks can monitor.
std::map<std::string, double> named_values(const EpochRecord& record,
                                           std::span<const std::string> metric_names);

class ProgressReporter {
 public:
  virtual ~ProgressReporter() = default;
  // `metric_names` outlives the training run.
  virtual void epoch_begin(int64_t epoch, int64_t epochs, int64_t steps,
                           std::span<const std::string> metric_names) = 0;
  // Called after every step with the running means; must be cheap (no allocation, rare
  // output).
  virtual void step_end(int64_t step, double loss, std::span<const double> metrics) = 0;
  virtual void epoch_end(const EpochRecord& record) = 0;
};

// The live bar when `out` is a terminal, plain lines when it is not.
std::unique_ptr<ProgressReporter> make_progress_reporter(std::FILE* out);
// No output at all (tests, benchmarks).
std::unique_ptr<ProgressReporter> make_silent_reporter();

}  // namespace loom
