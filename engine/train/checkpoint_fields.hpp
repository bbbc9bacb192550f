#pragma once
// A checkpoint's metadata read with every value checked, for --resume: integers parsed whole
// (no exception escaping, no wrap: "-1" is not 2^64-1) and within their range, JSON of the
// expected shape, finite numbers where the run needs them; and tensors of weights refused
// when they hold a NaN or an infinity. Every error is one InputError line naming the file,
// the field and what was expected.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>

#include "engine/train/safetensors.hpp"

namespace loom {

class CheckpointFields {
 public:
  explicit CheckpointFields(const SafetensorsFile& file) : file_(file) {}

  [[noreturn]] void fail(const std::string& field, const std::string& expected,
                         const std::string& found) const;

  // Fails naming metadata entry `key` and showing its value.
  [[noreturn]] void fail_entry(const std::string& key, const std::string& expected) const;

  // A metadata entry holding a decimal integer in [low, high].
  int64_t integer(const std::string& key, int64_t low, int64_t high) const;
  // A metadata entry holding JSON.
  nlohmann::json json(const std::string& key) const;

  // Values inside a JSON entry; `field` names the value ("early_stopping.wait").
  const nlohmann::json& member(const nlohmann::json& object, const std::string& key,
                               const std::string& field) const;
  double finite(const nlohmann::json& value, const std::string& field) const;
  double finite(const nlohmann::json& value, const std::string& field, double low,
                double high) const;
  int64_t integer(const nlohmann::json& value, const std::string& field, int64_t low,
                  int64_t high) const;
  bool boolean(const nlohmann::json& value, const std::string& field) const;
  const nlohmann::json& array(const nlohmann::json& value, const std::string& field,
                              size_t size) const;

  // An F32 tensor's bytes, refused when any value is NaN or infinite (they would train to
  // NaN weights, or hand back NaN weights to evaluate).
  // With `nonnegative`, negative values are refused too (accumulated squares).
  void check_finite(const std::string& tensor, std::span<const std::byte> bytes,
                    bool nonnegative = false) const;

 private:
  const SafetensorsFile& file_;
};

// The same check without metadata, for weights given to --init-weights and evaluate.
void check_finite_tensor(const SafetensorsFile& file, const std::string& tensor,
                         std::span<const std::byte> bytes, bool nonnegative = false);

}  // namespace loom
