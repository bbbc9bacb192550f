#include "engine/train/callbacks.hpp"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

namespace loom {

namespace {

nlohmann::json watch_json(const Watch& watch) {
  return nlohmann::json{{"best", watch.best}, {"has_best", watch.has_best}, {"wait", watch.wait}};
}

// Metadata entry `key`: a watch whose wait is at most `max_wait` and which has a best value
// exactly when one must have been seen.
Watch read_watch(const CheckpointFields& fields, const std::string& key, int64_t max_wait,
                 bool has_best) {
  const nlohmann::json json = fields.json(key);
  Watch watch{fields.finite(fields.member(json, "best", key), key + ".best"),
              fields.boolean(fields.member(json, "has_best", key), key + ".has_best"),
              fields.integer(fields.member(json, "wait", key), key + ".wait", 0, max_wait)};
  if (watch.has_best != has_best) {
    fields.fail(key + ".has_best", has_best ? "true" : "false", watch.has_best ? "true" : "false");
  }
  return watch;
}

}  // namespace

bool Watch::improves(const MonitorSpec& monitor, double value, double min_delta) const {
  if (!has_best) return true;
  return monitor.maximize() ? value > best + min_delta : value < best - min_delta;
}

EarlyStopping::EarlyStopping(std::optional<EarlyStoppingSpec> spec, ParameterStore& parameters,
                             std::vector<std::string> trainable)
    : spec_(std::move(spec)), parameters_(parameters), trainable_(std::move(trainable)) {}

bool EarlyStopping::on_epoch_end(const EpochMetrics& values) {
  if (!spec_) return false;
  const double value = values.at(spec_->monitor.metric);
  if (watch_.improves(spec_->monitor, value, spec_->min_delta)) {
    watch_ = {value, true, 0};
    if (spec_->restore_best_weights) {
      best_weights_.clear();
      for (const std::string& name : trainable_) {
        const auto weights = parameters_.at(name);
        best_weights_.emplace_back(weights.begin(), weights.end());
      }
    }
    return false;
  }
  return ++watch_.wait >= std::max<int64_t>(spec_->patience, 1);
}

void EarlyStopping::on_stop() {
  if (!spec_ || !spec_->restore_best_weights || best_weights_.empty()) return;
  for (size_t i = 0; i < trainable_.size(); ++i) {
    std::ranges::copy(best_weights_[i], parameters_.at(trainable_[i]).begin());
  }
}

void EarlyStopping::write_state(CheckpointWriter& writer) const {
  writer.metadata["early_stopping"] = watch_json(watch_).dump();
  for (size_t i = 0; i < best_weights_.size(); ++i) {
    writer.tensors.push_back({"best_weights/" + trainable_[i], "F32",
                              parameters_.shape(trainable_[i]),
                              std::as_bytes(std::span<const float>(best_weights_[i]))});
  }
}

std::function<void()> EarlyStopping::read_state(const CheckpointReader& reader) {
  const Watch watch =
      read_watch(reader.fields, "early_stopping", spec_ ? std::max<int64_t>(spec_->patience, 1) : 0,
                 spec_ && reader.position.epoch > 1);
  // Best weights exist once early stopping has seen a best epoch with restore_best_weights.
  const bool has_best_weights =
      !trainable_.empty() && reader.file.contains("best_weights/" + trainable_.front());
  if (has_best_weights) {
    for (const std::string& name : trainable_) {
      reader.fields.check_finite(
          "best_weights/" + name,
          reader.file.bytes("best_weights/" + name, "F32", parameters_.shape(name)));
    }
  }
  return [this, watch, has_best_weights, &file = reader.file] {
    watch_ = watch;
    best_weights_.clear();
    if (!has_best_weights) return;
    for (const std::string& name : trainable_) {
      const auto bytes = file.bytes("best_weights/" + name, "F32", parameters_.shape(name));
      auto& weights = best_weights_.emplace_back(bytes.size() / sizeof(float));
      std::memcpy(weights.data(), bytes.data(), bytes.size());
    }
  };
}

bool BestCheckpoint::on_epoch_end(const EpochMetrics& values) {
  const double value = values.at(monitor_.metric);
  improved_ = watch_.improves(monitor_, value, 0.0);
  if (improved_) watch_ = {value, true, 0};
  return false;
}

void BestCheckpoint::before_next_epoch(const std::function<void(const std::string&)>& save) {
  if (improved_) save("best.safetensors");
}

void BestCheckpoint::write_state(CheckpointWriter& writer) const {
  writer.metadata["best_checkpoint"] = watch_json(watch_).dump();
}

std::function<void()> BestCheckpoint::read_state(const CheckpointReader& reader) {
  const Watch watch = read_watch(reader.fields, "best_checkpoint", 0, reader.position.epoch > 1);
  return [this, watch] { watch_ = watch; };
}

}  // namespace loom
