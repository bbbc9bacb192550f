#include "engine/train/thread_tuner.hpp"

#include <algorithm>

namespace loom {

namespace {

// Each count is timed over at least this long and this many steps: long enough to span several
// of the scheduler's time slices when another process shares a core, short enough that the
// slower counts cost little.
constexpr double kMeasureSeconds = 0.05;
constexpr int64_t kMeasureSteps = 3;
// A count whose steps are this much slower than the best one measured in the same round is
// dropped after its first step: under load the losing count is several times slower, and
// every step spent on it is lost.
constexpr double kHopeless = 1.5;
// Settled steps are averaged over windows this long; a window this much slower than the
// measurement means the machine's load changed.
constexpr double kWatchSeconds = 0.25;
constexpr double kSlowdown = 1.25;
// Even when nothing slowed down, measure again after this much training: a process that left
// freed cores the settled count may not use.
constexpr double kRecheckSeconds = 5.0;
// A smaller count must be this much faster to be chosen over a larger one (measurement noise
// on a quiet machine must not cost the larger count's speed).
constexpr double kPreferLarger = 0.97;
// A run's first steps are slower than the rest (the arena's pages are touched for the first
// time, caches are cold): the first measurement starts after this much training.
constexpr double kWarmUpSeconds = 0.1;

}  // namespace

ThreadTuner::ThreadTuner(Runtime& runtime, bool allowed)
    : runtime_(runtime),
      adapting_(allowed && runtime.thread_counts.size() > 1),
      measured_(runtime.thread_counts.size(), 0.0) {
  if (adapting_) {
    warm_up_seconds_ = kWarmUpSeconds;
    start_measuring(0);
  }
}

void ThreadTuner::after_step(double seconds) {
  if (!adapting_) return;
  if (warm_up_seconds_ > 0) {
    warm_up_seconds_ -= seconds;
  } else if (measuring_) {
    measure(seconds);
  } else {
    watch(seconds);
  }
}

// A round over every count. `current_mean` (when positive) is what the running count's steps
// took in the last watch window: that count needs no second measurement.
void ThreadTuner::start_measuring(double current_mean) {
  measuring_ = true;
  std::ranges::fill(measured_, 0.0);
  if (current_mean > 0) measured_[runtime_.thread_slot] = current_mean;
  slot_ = 0;
  measure_next();
}

// Switches to the next count not yet measured in this round, or settles when none is left.
void ThreadTuner::measure_next() {
  while (slot_ < measured_.size() && measured_[slot_] > 0) ++slot_;
  if (slot_ == measured_.size()) {
    settle();
    return;
  }
  runtime_.use_thread_slot(slot_);
  skip_next_step_ = true;
  window_seconds_ = 0;
  window_steps_ = 0;
}

double ThreadTuner::best_measured() const {
  double best = 0;
  for (const double seconds : measured_) {
    if (seconds > 0 && (best == 0 || seconds < best)) best = seconds;
  }
  return best;
}

void ThreadTuner::measure(double seconds) {
  const double best = best_measured();
  const bool hopeless = best > 0 && seconds > kHopeless * best;
  if (skip_next_step_ && !hopeless) {  // after a switch: threads and caches warm up
    skip_next_step_ = false;
    return;
  }
  window_seconds_ += seconds;
  ++window_steps_;
  const double mean = window_seconds_ / double(window_steps_);
  if (!hopeless && (window_seconds_ < kMeasureSeconds || window_steps_ < kMeasureSteps)) return;
  measured_[slot_] = mean;
  measure_next();
}

// The fastest count, larger counts winning near-ties.
void ThreadTuner::settle() {
  size_t best = 0;
  for (size_t slot = 1; slot < measured_.size(); ++slot) {
    if (measured_[slot] < measured_[best] * kPreferLarger) best = slot;
  }
  runtime_.use_thread_slot(best);
  measuring_ = false;
  settled_seconds_ = 0;
  last_window_mean_ = 0;
  window_seconds_ = 0;
  window_steps_ = 0;
}

void ThreadTuner::watch(double seconds) {
  settled_seconds_ += seconds;
  window_seconds_ += seconds;
  ++window_steps_;
  if (window_seconds_ >= kWatchSeconds && window_steps_ >= kMeasureSteps) {
    last_window_mean_ = window_seconds_ / double(window_steps_);
    window_seconds_ = 0;
    window_steps_ = 0;
    if (last_window_mean_ > measured_[runtime_.thread_slot] * kSlowdown) {
      start_measuring(last_window_mean_);
      return;
    }
  }
  if (settled_seconds_ >= kRecheckSeconds) start_measuring(last_window_mean_);
}

}  // namespace loom
