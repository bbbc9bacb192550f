#pragma once
// Adaptive threads while training (engine/exec/threads.hpp): the trainer times its steps, and
// between steps this picks the thread count whose steps are fastest now.
//
// It measures each of the runtime's counts over a few real training steps (no work is thrown
// away: they are the run's own steps), settles on the fastest, and measures the other counts
// again when the settled steps slow down by a quarter (another process took cores) or every
// few seconds (one may have left). A count far slower than the best is dropped after one step.
// On a quiet machine the largest count wins and the cost is the few steps run on fewer threads
// per recheck (under 1%). Steps on different thread counts can round sums
// differently inside oneDNN: a run that must repeat bit for bit fixes --threads.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "engine/exec/runtime.hpp"

namespace loom {

class ThreadTuner {
 public:
  // Adapts only when the runtime compiled kernels for more than one count and `allowed`
  // (data-parallel ranks wait for each other, so their step times say little about their own
  // thread count; they keep theirs).
  ThreadTuner(Runtime& runtime, bool allowed);

  // After every training step, with the step's wall time in seconds; may switch the runtime
  // to another thread count for the following steps.
  void after_step(double seconds);

  bool adapting() const { return adapting_; }
  // Mean seconds per step each count took in the last round of measurements.
  const std::vector<double>& measured_step_seconds() const { return measured_; }

 private:
  void start_measuring(double current_mean);
  void measure_next();
  double best_measured() const;
  void measure(double seconds);
  void settle();
  void watch(double seconds);

  Runtime& runtime_;
  bool adapting_;
  bool measuring_ = true;
  size_t slot_ = 0;              // the count being measured
  bool skip_next_step_ = false;  // the first step after a switch warms threads and caches up
  double warm_up_seconds_ = 0;   // training left before the first measurement
  double window_seconds_ = 0;    // steps timed in the current window
  int64_t window_steps_ = 0;
  double last_window_mean_ = 0;   // seconds per step in the last full watch window
  double settled_seconds_ = 0;    // training time since the last measurement ended
  std::vector<double> measured_;  // seconds per step of each count in the last round (0: not yet)
};

}  // namespace loom
