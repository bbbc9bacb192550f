// Trainer::fit: epochs of steps over the shuffled training set, the epoch's record and its
// evaluations, the callbacks, and the run directory's files.

#include <chrono>

#include "engine/train/history.hpp"
#include "engine/train/trainer.hpp"

namespace loom {

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

}  // namespace

// The hooks agree on stopping under data parallelism; alone, the request decides.
bool Trainer::stop_now() const {
  bool stop = stop_requested().load(std::memory_order_relaxed);
  for (const auto& hook : hooks_) stop = hook->stops(stop);
  return stop;
}

FitOutcome Trainer::fit(ProgressReporter& progress,
                        const std::function<void(const EpochRecord&)>& after_epoch) {
  const int64_t epochs = session_.experiment().trainer.epochs;
  for (RunPosition& at = state_.position; at.epoch <= epochs;) {
    const auto epoch_start = Clock::now();
    if (at.step_in_epoch == 0) {
      state_.loss_sum = 0;
      state_.seen = 0;
      metrics_.reset();
    }
    progress.epoch_begin(at.epoch, epochs, batches_.global.steps, metrics_.names());
    if (!run_epoch(progress)) return FitOutcome::interrupted;
    const double train_seconds = seconds_since(epoch_start);
    if (state_.seen == 0) {
      throw NonFiniteError("epoch " + std::to_string(at.epoch) +
                           ": every batch was skipped for non-finite values (" +
                           last_skip_message_ + ")");
    }
    const EpochRecord record = finish_epoch(train_seconds, seconds_since(epoch_start));
    if (!end_epoch(record, progress, after_epoch)) return FitOutcome::stopped_early;
  }
  return FitOutcome::finished;
}

// The rest of the epoch's steps; false when a stop was requested (the position is saved).
bool Trainer::run_epoch(ProgressReporter& progress) {
  const BatchSplit& split = batches_.global;
  const int64_t every_steps = session_.experiment().trainer.checkpoint.every_steps;
  RunPosition& at = state_.position;
  for (; at.step_in_epoch < split.steps; ++at.step_in_epoch) {
    if (stop_now()) {
      write_run_files(at, false);
      return false;
    }
    // Keras reshuffles the whole training set every epoch. After the stop check: a run
    // stopped before its epoch's first step is saved at step 0 unshuffled, and its resume
    // shuffles once, as the uninterrupted run does.
    if (at.step_in_epoch == 0 && session_.experiment().trainer.shuffle) {
      state_.shuffle_random.shuffle(std::span<uint32_t>(state_.order));
    }
    const int64_t size = split.size_of(at.step_in_epoch);
    const Shard shard = shard_of(size, communicator_.rank(), communicator_.size());
    const std::span<const uint32_t> indices(
        state_.order.data() + at.step_in_epoch * split.batch + shard.begin, size_t(shard.size()));
    const auto step_start = Clock::now();
    const bool taken = step(indices, size);
    thread_tuner_.after_step(seconds_since(step_start));
    if (!taken) {
      ++skipped_batches_;  // (or a NonFiniteError was thrown)
      continue;
    }
    state_.loss_sum += step_loss_sum_;
    state_.seen += size;
    metrics_.results(running_metrics_);
    progress.step_end(at.step_in_epoch + 1, state_.loss_sum / double(state_.seen),
                      running_metrics_);
    if (every_steps > 0 && optimizer_->iterations() % every_steps == 0 &&
        at.step_in_epoch + 1 < split.steps) {
      write_run_files({at.epoch, at.step_in_epoch + 1}, false);  // after the step just taken
    }
  }
  return true;
}

EpochRecord Trainer::finish_epoch(double train_seconds, double epoch_seconds) {
  for (const auto& hook : hooks_) hook->before_weights_are_read(session_.parameters());
  EpochRecord record{.epoch = state_.position.epoch,
                     .loss = state_.loss_sum / double(state_.seen),
                     .metrics = metrics_.global_results(communicator_)};
  if (data_.validation) {
    Evaluation evaluation = evaluate(*data_.validation);
    record.has_validation = true;
    record.val_loss = evaluation.loss;
    record.val_metrics = std::move(evaluation.metrics);
  }
  if (data_.test) {
    Evaluation evaluation = evaluate(*data_.test);
    record.has_test = true;
    record.test_loss = evaluation.loss;
    record.test_metrics = std::move(evaluation.metrics);
  }
  record.learning_rate = optimizer_->learning_rate();
  record.seconds = epoch_seconds;
  record.samples_per_second = double(state_.seen) / train_seconds;
  return record;
}

// The epoch's record to the history, the schedule and the callbacks, and the run files
// written at the start of the next epoch; false when a callback stopped training.
bool Trainer::end_epoch(const EpochRecord& record, ProgressReporter& progress,
                        const std::function<void(const EpochRecord&)>& after_epoch) {
  RunPosition& at = state_.position;
  state_.history.push_back(record);
  progress.epoch_end(record);
  const EpochMetrics values = named_values(record, metrics_.names());
  optimizer_->epoch_end(values);
  bool stop = false;
  for (const auto& callback : callbacks_) stop = callback->on_epoch_end(values) || stop;
  at.step_in_epoch = 0;
  if (after_epoch) after_epoch(record);
  const RunPosition next{at.epoch + 1, 0};
  if (stop) {
    for (const auto& callback : callbacks_) callback->on_stop();
  } else {
    for (const auto& callback : callbacks_) {
      callback->before_next_epoch([&](const std::string& name) {
        if (run_directory_) save_checkpoint(*run_directory_ / name, next);
      });
    }
  }
  at = next;
  write_run_files(next, true);
  return !stop;
}

// The run directory's files: history.csv and .json after each epoch, and the last checkpoint.
// Every rank calls it at the same step: a checkpoint inside an epoch holds the metrics' sums
// over every rank (collective), and the weights every rank holds alike.
void Trainer::write_run_files(RunPosition position, bool epoch_done) {
  MetricSet::States sums;
  if (epoch_done) {
    sums = metrics_.states();  // an epoch-end checkpoint's sums are this rank's own
  } else {
    sums = metrics_.global_states(communicator_);
    for (const auto& hook : hooks_) hook->before_weights_are_read(session_.parameters());
  }
  if (!run_directory_) return;
  if (epoch_done) {
    const auto names = metrics_.names();
    write_history_csv(*run_directory_ / "history.csv", names, state_.history);
    write_file_atomically(*run_directory_ / "history.json", history_json(names, state_.history));
  }
  write_checkpoint(*run_directory_ / "last.safetensors", checkpoint_parts(), state_, position,
                   sums);
}

}  // namespace loom
