// The trainer's checkpoints: what a run's position is made of, written into safetensors
// (engine/train/safetensors.*: the format, the checksum, atomic replacement), and read back
// with every field checked against the run it is resumed into, so an edited or damaged
// position is refused with one line instead of crashing or training forever.

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "engine/core/error.hpp"
#include "engine/train/checkpoint_fields.hpp"
#include "engine/train/history.hpp"
#include "engine/train/safetensors.hpp"
#include "engine/train/trainer.hpp"

namespace loom {

namespace {

constexpr const char* kCheckpointFormat = "loom-checkpoint-1";

template <typename T>
std::span<const std::byte> bytes_of(std::span<const T> values) {
  return std::as_bytes(values);
}

template <typename T>
void copy_bytes(std::span<const std::byte> from, std::span<T> to) {
  std::memcpy(to.data(), from.data(), from.size());
}

// a·b + c for counts that fit comfortably, saturating instead of wrapping.
int64_t saturating_mul_add(int64_t a, int64_t b, int64_t c) {
  int64_t product = 0, sum = 0;
  if (__builtin_mul_overflow(a, b, &product) || __builtin_add_overflow(product, c, &sum)) {
    return INT64_MAX;
  }
  return sum;
}

struct Position {
  int64_t epoch, step, iterations, seen;
  double loss_sum;
};

// Where the run is: an epoch of this run (epochs + 1 once every epoch is done), a step within
// it, no more optimizer steps than batches so far (skipped batches take none), no more
// samples seen than its steps hold.
Position read_position(const CheckpointFields& fields, int64_t epochs, int64_t batch,
                       int64_t samples) {
  const int64_t steps = (samples + batch - 1) / batch;
  Position position{};
  position.epoch = fields.integer("epoch", 1, saturating_mul_add(1, epochs, 1));
  position.step = fields.integer("step_in_epoch", 0, position.epoch > epochs ? 0 : steps - 1);
  position.iterations =
      fields.integer("iterations", 0, saturating_mul_add(position.epoch - 1, steps, position.step));
  position.seen = fields.integer(
      "seen", 0, position.step == 0 ? samples : std::min(samples, position.step * batch));
  position.loss_sum = fields.finite(fields.json("loss_sum"), "loss_sum");
  return position;
}

// The epoch's sample order: every index of the training set exactly once.
std::vector<uint32_t> read_order(const SafetensorsFile& file, const CheckpointFields& fields,
                                 size_t samples) {
  const auto bytes = file.bytes("trainer/order", "U32", {int64_t(samples)});
  std::vector<uint32_t> order(samples);
  copy_bytes(bytes, std::span<uint32_t>(order));
  std::vector<bool> taken(samples, false);
  for (size_t i = 0; i < samples; ++i) {
    if (order[i] >= samples || taken[order[i]]) {
      fields.fail("trainer/order[" + std::to_string(i) + "]",
                  "a permutation of the " + std::to_string(samples) + " training indices",
                  order[i] >= samples ? std::to_string(order[i]) + " (out of range)"
                                      : std::to_string(order[i]) + " (a repeat)");
    }
    taken[order[i]] = true;
  }
  return order;
}

// The history's epochs 1 .. completed, with the columns this run reports.
std::vector<EpochRecord> read_history(const CheckpointFields& fields,
                                      std::span<const std::string> metric_names, int64_t completed,
                                      bool validation, bool test) {
  const nlohmann::json rows = fields.json("history");
  fields.array(rows, "history", size_t(completed));
  std::vector<EpochRecord> history;
  for (size_t i = 0; i < rows.size(); ++i) {
    const nlohmann::json& row = rows[i];
    const std::string where = "history[" + std::to_string(i) + "]";
    const auto number = [&](const std::string& key) {
      return fields.finite(fields.member(row, key, where), where + "." + key);
    };
    const auto metrics = [&](const std::string& prefix) {
      std::vector<double> values;
      for (const std::string& name : metric_names) values.push_back(number(prefix + name));
      return values;
    };
    EpochRecord record;
    record.epoch = fields.integer(fields.member(row, "epoch", where), where + ".epoch",
                                  int64_t(i) + 1, int64_t(i) + 1);
    record.loss = number("loss");
    record.metrics = metrics("");
    for (const auto& [present, prefix] :
         {std::pair{validation, "val_"}, std::pair{test, "test_"}}) {
      if (row.contains(std::string(prefix) + "loss") != present) {
        fields.fail(where + "." + prefix + "loss", present ? "a value" : "none (no such data)",
                    present ? "none" : "a value");
      }
    }
    record.has_validation = validation;
    if (validation) record.val_loss = number("val_loss"), record.val_metrics = metrics("val_");
    record.has_test = test;
    if (test) record.test_loss = number("test_loss"), record.test_metrics = metrics("test_");
    record.seconds = fields.finite(fields.member(row, "seconds", where), where + ".seconds", 0,
                                   std::numeric_limits<double>::max());
    record.samples_per_second =
        fields.finite(fields.member(row, "samples_per_second", where),
                      where + ".samples_per_second", 0, std::numeric_limits<double>::max());
    history.push_back(std::move(record));
  }
  return history;
}

}  // namespace

void Trainer::save_checkpoint(const std::filesystem::path& file) const {
  std::vector<TensorBytes> tensors;
  // Every parameter, trainable or not (batch normalization's moving statistics).
  for (const auto& [name, shape] : parameters_.shapes()) {
    tensors.push_back(
        {"weights/" + name, "F32", shape, bytes_of(std::span<const float>(parameters_.at(name)))});
  }
  for (const OptimizerState& slot : optimizer_->state()) {
    tensors.push_back({"optimizer/" + slot.name,
                       "F32",
                       {std::ssize(slot.values)},
                       bytes_of(std::span<const float>(slot.values))});
  }
  tensors.push_back(
      {"trainer/order", "U32", {std::ssize(order_)}, bytes_of(std::span<const uint32_t>(order_))});
  for (size_t i = 0; i < best_weights_.size(); ++i) {
    tensors.push_back({"best_weights/" + parameter_order_[i], "F32",
                       parameters_.shape(parameter_order_[i]),
                       bytes_of(std::span<const float>(best_weights_[i]))});
  }
  nlohmann::json scalars = nlohmann::json::object();
  for (const auto& [name, value] : const_cast<Optimizer&>(*optimizer_).scalar_state()) {
    scalars[name] = *value;
  }
  nlohmann::json metric_state = nlohmann::json::array();
  for (size_t m = 0; m < metrics_.size(); ++m) {
    metric_state.push_back(checkpoint_metric_states_.empty() ? metrics_[m]->state()
                                                             : checkpoint_metric_states_[m]);
  }
  const auto watch = [](const Watch& w) {
    return nlohmann::json{{"best", w.best}, {"has_best", w.has_best}, {"wait", w.wait}};
  };
  const std::map<std::string, std::string> metadata = {
      {"format", kCheckpointFormat},
      {"experiment", experiment_.name},
      {"epoch", std::to_string(epoch_)},
      {"step_in_epoch", std::to_string(step_in_epoch_)},
      {"iterations", std::to_string(optimizer_->iterations())},
      {"optimizer", std::string(optimizer_->name())},
      {"optimizer_scalars", scalars.dump()},
      {"shuffle_random", shuffle_random_.state()},
      {"loss_sum", nlohmann::json(loss_sum_).dump()},
      {"seen", std::to_string(seen_)},
      {"metric_state", metric_state.dump()},
      {"early_stopping", watch(early_stopping_).dump()},
      {"best_checkpoint", watch(best_checkpoint_).dump()},
      {"history", history_json(metric_names_, history_)}};
  write_safetensors(file, tensors, metadata);
}

// Every tensor is checked before any is copied: a refused file leaves the weights as they were.
void Trainer::load_weights(const SafetensorsFile& file) {
  for (const auto& [name, shape] : parameters_.shapes()) {
    check_finite_tensor(file, "weights/" + name, file.bytes("weights/" + name, "F32", shape));
  }
  for (const auto& [name, shape] : parameters_.shapes()) {
    copy_bytes(file.bytes("weights/" + name, "F32", shape), parameters_.at(name));
  }
}

void Trainer::initialize_weights(const std::filesystem::path& checkpoint) {
  load_weights(SafetensorsFile::read(checkpoint));
}

std::vector<std::vector<double>> Trainer::read_metric_states(const CheckpointFields& fields) const {
  const nlohmann::json states = fields.json("metric_state");
  fields.array(states, "metric_state", metrics_.size());
  std::vector<std::vector<double>> result;
  for (size_t m = 0; m < metrics_.size(); ++m) {
    const std::string where = "metric_state[" + std::to_string(m) + "] (" + metric_names_[m] + ")";
    const size_t size = metrics_[m]->state().size();
    std::vector<double>& state = result.emplace_back();
    for (const auto& value : fields.array(states[m], where, size)) {
      state.push_back(fields.finite(value, where));
    }
    if (const std::string problem = metrics_[m]->state_problem(state); !problem.empty()) {
      fields.fail(where, problem, states[m].dump());
    }
  }
  return result;
}

Trainer::Watch Trainer::read_watch(const CheckpointFields& fields, const std::string& key,
                                   int64_t max_wait, bool has_best) const {
  const nlohmann::json json = fields.json(key);
  Watch watch{fields.finite(fields.member(json, "best", key), key + ".best"),
              fields.boolean(fields.member(json, "has_best", key), key + ".has_best"),
              fields.integer(fields.member(json, "wait", key), key + ".wait", 0, max_wait)};
  if (watch.has_best != has_best) {
    fields.fail(key + ".has_best", has_best ? "true" : "false", watch.has_best ? "true" : "false");
  }
  return watch;
}

// The optimizer's slots (finite; checked before any is copied) and scalars: exactly the
// ones this optimizer and schedule keep, finite, and within their own ranges.
void Trainer::restore_optimizer(const SafetensorsFile& file, const CheckpointFields& fields,
                                int64_t iterations) {
  const std::vector<OptimizerState> slots = optimizer_->state();
  for (const OptimizerState& slot : slots) {
    fields.check_finite("optimizer/" + slot.name,
                        file.bytes("optimizer/" + slot.name, "F32", {std::ssize(slot.values)}),
                        slot.nonnegative);
  }
  const nlohmann::json scalars = fields.json("optimizer_scalars");
  const auto expected = optimizer_->scalar_state();
  if (!scalars.is_object() || scalars.size() != expected.size()) {
    std::string names;
    for (const auto& entry : expected) names += (names.empty() ? "" : ", ") + entry.first;
    fields.fail("optimizer_scalars", "an object of {" + names + "}", scalars.dump());
  }
  std::vector<double> values;
  for (const auto& [name, value] : expected) {
    values.push_back(fields.finite(fields.member(scalars, name, "optimizer_scalars"),
                                   "optimizer_scalars." + name));
  }
  for (const OptimizerState& slot : slots) {
    copy_bytes(file.bytes("optimizer/" + slot.name, "F32", {std::ssize(slot.values)}), slot.values);
  }
  for (size_t i = 0; i < expected.size(); ++i) *expected[i].second = values[i];
  optimizer_->set_iterations(iterations);
  if (const std::string problem = optimizer_->state_problem(); !problem.empty()) {
    fields.fail("optimizer_scalars", problem, scalars.dump());
  }
}

void Trainer::resume(const std::filesystem::path& checkpoint) {
  const SafetensorsFile file = SafetensorsFile::read(checkpoint);
  const CheckpointFields fields(file);
  const std::string name = checkpoint.string();
  if (file.metadata("format") != kCheckpointFormat) {
    throw InputError(name + ": not a loom training checkpoint (format '" + file.metadata("format") +
                     "')");
  }
  if (file.metadata("optimizer") != optimizer_->name()) {
    throw InputError(name + ": the checkpoint was written by optimizer '" +
                     file.metadata("optimizer") + "', the config uses '" +
                     std::string(optimizer_->name()) + "'");
  }
  const Position position = read_position(fields, experiment_.trainer.epochs,
                                          experiment_.trainer.batch_size, train_->size());
  const int64_t epoch = position.epoch;
  Random shuffle = shuffle_random_;
  if (!shuffle.restore(file.metadata("shuffle_random"))) {
    fields.fail_entry("shuffle_random",
                      "the shuffle generator's state (64-bit decimal words, not all 0)");
  }
  std::vector<uint32_t> order = read_order(file, fields, size_t(train_->size()));
  const std::vector<std::vector<double>> metric_states = read_metric_states(fields);
  const auto& stopping = experiment_.trainer.early_stopping;
  const Watch early =
      read_watch(fields, "early_stopping", stopping ? std::max<int64_t>(stopping->patience, 1) : 0,
                 stopping && epoch > 1);
  const Watch best = read_watch(fields, "best_checkpoint", 0, epoch > 1);
  std::vector<EpochRecord> history =
      read_history(fields, metric_names_, epoch - 1, validation_.has_value(), test_.has_value());
  // Restore-best weights exist once early stopping has seen a best epoch.
  const bool has_best_weights =
      !parameter_order_.empty() && file.contains("best_weights/" + parameter_order_.front());
  if (has_best_weights) {
    for (const std::string& parameter : parameter_order_) {
      fields.check_finite(
          "best_weights/" + parameter,
          file.bytes("best_weights/" + parameter, "F32", parameters_.shape(parameter)));
    }
  }

  // Everything is checked but the optimizer's own ranges: now the state changes.
  load_weights(file);
  restore_optimizer(file, fields, position.iterations);
  epoch_ = position.epoch;
  step_in_epoch_ = position.step;
  seen_ = position.seen;
  loss_sum_ = position.loss_sum;
  shuffle_random_ = shuffle;
  order_ = std::move(order);
  for (size_t m = 0; m < metrics_.size(); ++m) {
    // The sums are every rank's together: one rank carries them on, the others start at 0.
    if (communicator_.is_root()) {
      metrics_[m]->restore(metric_states[m]);
    } else {
      metrics_[m]->reset();
    }
    running_metrics_[m] = metrics_[m]->result();
  }
  early_stopping_ = early;
  best_checkpoint_ = best;
  history_ = std::move(history);
  best_weights_.clear();
  if (has_best_weights) {
    for (const std::string& parameter : parameter_order_) {
      auto& weights = best_weights_.emplace_back(size_t(numel(parameters_.shape(parameter))));
      copy_bytes(file.bytes("best_weights/" + parameter, "F32", parameters_.shape(parameter)),
                 std::span<float>(weights));
    }
  }
  runtime_.step = optimizer_->iterations();
}

}  // namespace loom
