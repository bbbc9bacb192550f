#include "engine/train/checkpoint.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "engine/core/error.hpp"
#include "engine/train/batching.hpp"
#include "engine/train/callback.hpp"
#include "engine/train/history.hpp"
#include "engine/train/safetensors.hpp"

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
  const int64_t steps = BatchSplit::of(batch, samples).steps;
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
    // Absent or null in histories written before the rate was recorded.
    record.learning_rate = std::numeric_limits<double>::quiet_NaN();
    if (row.contains("learning_rate") && !row["learning_rate"].is_null()) {
      record.learning_rate = fields.finite(row["learning_rate"], where + ".learning_rate", 0,
                                           std::numeric_limits<double>::max());
    }
    record.seconds = fields.finite(fields.member(row, "seconds", where), where + ".seconds", 0,
                                   std::numeric_limits<double>::max());
    record.samples_per_second =
        fields.finite(fields.member(row, "samples_per_second", where),
                      where + ".samples_per_second", 0, std::numeric_limits<double>::max());
    history.push_back(std::move(record));
  }
  return history;
}

std::vector<std::vector<double>> read_metric_states(const CheckpointFields& fields,
                                                    const MetricSet& metrics) {
  const nlohmann::json states = fields.json("metric_state");
  fields.array(states, "metric_state", metrics.size());
  std::vector<std::vector<double>> result;
  for (size_t m = 0; m < metrics.size(); ++m) {
    const std::string where =
        "metric_state[" + std::to_string(m) + "] (" + metrics.names()[m] + ")";
    std::vector<double>& state = result.emplace_back();
    for (const auto& value : fields.array(states[m], where, metrics.state_size(m))) {
      state.push_back(fields.finite(value, where));
    }
    if (const std::string problem = metrics.state_problem(m, state); !problem.empty()) {
      fields.fail(where, problem, states[m].dump());
    }
  }
  return result;
}

// The optimizer's slots (finite; checked before any is copied) and scalars: exactly the
// ones this optimizer and schedule keep, finite, and within their own ranges.
void restore_optimizer(Optimizer& optimizer, const SafetensorsFile& file,
                       const CheckpointFields& fields, int64_t iterations) {
  const std::vector<OptimizerState> slots = optimizer.state();
  for (const OptimizerState& slot : slots) {
    fields.check_finite("optimizer/" + slot.name,
                        file.bytes("optimizer/" + slot.name, "F32", {std::ssize(slot.values)}),
                        slot.nonnegative);
  }
  const nlohmann::json scalars = fields.json("optimizer_scalars");
  const auto expected = optimizer.scalar_state();
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
  optimizer.set_iterations(iterations);
  if (const std::string problem = optimizer.state_problem(); !problem.empty()) {
    fields.fail("optimizer_scalars", problem, scalars.dump());
  }
}

}  // namespace

void write_checkpoint(const std::filesystem::path& file, const CheckpointParts& parts,
                      const RunState& state, RunPosition position,
                      const MetricSet::States& metric_states) {
  CheckpointWriter writer;
  std::vector<TensorBytes>& tensors = writer.tensors;
  // Every parameter, trainable or not (batch normalization's moving statistics).
  const ParameterStore& parameters = parts.parameters;
  for (const auto& [name, shape] : parameters.shapes()) {
    tensors.push_back(
        {"weights/" + name, "F32", shape, bytes_of(std::span<const float>(parameters.at(name)))});
  }
  for (const OptimizerState& slot : parts.optimizer.state()) {
    tensors.push_back({"optimizer/" + slot.name,
                       "F32",
                       {std::ssize(slot.values)},
                       bytes_of(std::span<const float>(slot.values))});
  }
  tensors.push_back({"trainer/order",
                     "U32",
                     {std::ssize(state.order)},
                     bytes_of(std::span<const uint32_t>(state.order))});
  for (const Callback* callback : parts.callbacks) callback->write_state(writer);

  nlohmann::json scalars = nlohmann::json::object();
  for (const auto& [name, value] : parts.optimizer.scalar_state()) scalars[name] = *value;
  nlohmann::json metric_state = nlohmann::json::array();
  for (const std::vector<double>& sums : metric_states) metric_state.push_back(sums);
  writer.metadata.insert({{"format", kCheckpointFormat},
                          {"experiment", parts.experiment.name},
                          {"epoch", std::to_string(position.epoch)},
                          {"step_in_epoch", std::to_string(position.step_in_epoch)},
                          {"iterations", std::to_string(parts.optimizer.iterations())},
                          {"optimizer", std::string(parts.optimizer.name())},
                          {"optimizer_scalars", scalars.dump()},
                          {"shuffle_random", state.shuffle_random.state()},
                          {"loss_sum", nlohmann::json(state.loss_sum).dump()},
                          {"seen", std::to_string(state.seen)},
                          {"metric_state", metric_state.dump()},
                          {"history", history_json(parts.metrics.names(), state.history)},
                          {"class_names", nlohmann::json(parts.class_names).dump()},
                          {"input_scale", nlohmann::json(double(parts.input_scale)).dump()}});
  write_safetensors(file, tensors, writer.metadata);
}

std::vector<std::string> class_names_from(const SafetensorsFile& file) {
  const auto found = file.metadata().find("class_names");
  if (found == file.metadata().end()) return {};
  const nlohmann::json names = nlohmann::json::parse(found->second, nullptr, false);
  std::vector<std::string> result;
  if (!names.is_array()) throw InputError(file.path().string() + ": class_names is not a list");
  for (const nlohmann::json& name : names) {
    if (!name.is_string())
      throw InputError(file.path().string() + ": class_names is not a list of names");
    result.push_back(name.get<std::string>());
  }
  return result;
}

std::optional<double> input_scale_from(const SafetensorsFile& file) {
  const auto found = file.metadata().find("input_scale");
  if (found == file.metadata().end()) return std::nullopt;
  const nlohmann::json scale = nlohmann::json::parse(found->second, nullptr, false);
  if (!scale.is_number() || !std::isfinite(scale.get<double>()) || scale.get<double>() < 0) {
    throw InputError(file.path().string() + ": input_scale: expected a number >= 0, found '" +
                     found->second + "'");
  }
  return scale.get<double>();
}

// Every tensor is checked before any is copied: a refused file leaves the weights as they were.
void load_weights_from(const SafetensorsFile& file, ParameterStore& parameters) {
  for (const auto& [name, shape] : parameters.shapes()) {
    check_finite_tensor(file, "weights/" + name, file.bytes("weights/" + name, "F32", shape));
  }
  for (const auto& [name, shape] : parameters.shapes()) {
    copy_bytes(file.bytes("weights/" + name, "F32", shape), parameters.at(name));
  }
}

namespace {

// The checks that come before any state is read: the format and the optimizer.
void expect_training_checkpoint(const SafetensorsFile& file, const std::string& name,
                                const Optimizer& optimizer) {
  if (file.metadata("format") != kCheckpointFormat) {
    throw InputError(name + ": not a loom training checkpoint (format '" + file.metadata("format") +
                     "')");
  }
  if (file.metadata("optimizer") != optimizer.name()) {
    throw InputError(name + ": the checkpoint was written by optimizer '" +
                     file.metadata("optimizer") + "', the config uses '" +
                     std::string(optimizer.name()) + "'");
  }
}

}  // namespace

void read_checkpoint(const std::filesystem::path& checkpoint, const CheckpointParts& parts,
                     RunState& state, bool carries_metric_sums) {
  const SafetensorsFile file = SafetensorsFile::read(checkpoint);
  const CheckpointFields fields(file);
  expect_training_checkpoint(file, checkpoint.string(), parts.optimizer);
  const TrainerSpec& trainer = parts.experiment.trainer;
  const auto samples = std::ssize(state.order);
  const Position position = read_position(fields, trainer.epochs, trainer.batch_size, samples);
  Random shuffle = state.shuffle_random;
  if (!shuffle.restore(file.metadata("shuffle_random"))) {
    fields.fail_entry("shuffle_random",
                      "the shuffle generator's state (64-bit decimal words, not all 0)");
  }
  std::vector<uint32_t> order = read_order(file, fields, size_t(samples));
  const MetricSet::States metric_states = read_metric_states(fields, parts.metrics);
  const CheckpointReader reader{file, fields, {position.epoch, position.step}};
  std::vector<std::function<void()>> install_callbacks;
  for (Callback* callback : parts.callbacks) {
    install_callbacks.push_back(callback->read_state(reader));
  }
  std::vector<EpochRecord> history = read_history(fields, parts.metrics.names(), position.epoch - 1,
                                                  parts.has_validation, parts.has_test);

  // Everything is checked but the optimizer's own ranges: now the state changes.
  load_weights_from(file, parts.parameters);
  restore_optimizer(parts.optimizer, file, fields, position.iterations);
  state.position = {position.epoch, position.step};
  state.seen = position.seen;
  state.loss_sum = position.loss_sum;
  state.shuffle_random = shuffle;
  state.order = std::move(order);
  state.history = std::move(history);
  if (carries_metric_sums) {
    parts.metrics.restore(metric_states);
  } else {
    parts.metrics.reset();
  }
  for (const auto& install : install_callbacks) install();
}

}  // namespace loom
