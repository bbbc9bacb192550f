#include "engine/train/checkpoint_fields.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

#include "engine/core/error.hpp"

namespace loom {

namespace {

// A value as the message shows it: on one line, and not a whole history.
std::string shown(const std::string& text) {
  std::string one_line =
      nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (one_line.size() > 60) one_line = one_line.substr(0, 56) + "...\"";
  return one_line;
}

std::string shown(const nlohmann::json& value) {
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  if (text.size() > 60) text = text.substr(0, 57) + "...";
  return text;
}

std::string range(int64_t low, int64_t high) {
  return "an integer from " + std::to_string(low) + " to " + std::to_string(high);
}

}  // namespace

void CheckpointFields::fail(const std::string& field, const std::string& expected,
                            const std::string& found) const {
  throw InputError(file_.path().string() + ": " + field + ": expected " + expected + ", found " +
                   found);
}

void CheckpointFields::fail_entry(const std::string& key, const std::string& expected) const {
  fail(key, expected, shown(file_.metadata(key)));
}

int64_t CheckpointFields::integer(const std::string& key, int64_t low, int64_t high) const {
  const std::string& text = file_.metadata(key);
  int64_t value = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc() || stop != end || value < low || value > high) {
    fail(key, range(low, high), shown(text));
  }
  return value;
}

nlohmann::json CheckpointFields::json(const std::string& key) const {
  const std::string& text = file_.metadata(key);
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    fail(key, "JSON", shown(text));
  }
}

const nlohmann::json& CheckpointFields::member(const nlohmann::json& object, const std::string& key,
                                               const std::string& field) const {
  if (!object.is_object()) fail(field, "an object", shown(object));
  const auto it = object.find(key);
  if (it == object.end()) fail(field + "." + key, "a value", "none");
  return *it;
}

double CheckpointFields::finite(const nlohmann::json& value, const std::string& field) const {
  if (!value.is_number() || !std::isfinite(value.get<double>())) {
    fail(field, "a finite number", shown(value));
  }
  return value.get<double>();
}

double CheckpointFields::finite(const nlohmann::json& value, const std::string& field, double low,
                                double high) const {
  const double number = value.is_number() ? value.get<double>() : NAN;
  if (!(number >= low && number <= high)) {  // NaN fails both
    fail(field,
         "a number from " + shown(nlohmann::json(low)) + " to " + shown(nlohmann::json(high)),
         shown(value));
  }
  return number;
}

int64_t CheckpointFields::integer(const nlohmann::json& value, const std::string& field,
                                  int64_t low, int64_t high) const {
  const bool in_range = (value.is_number_unsigned() && value.get<uint64_t>() <= uint64_t(high) &&
                         int64_t(value.get<uint64_t>()) >= low) ||
                        (value.is_number_integer() && !value.is_number_unsigned() &&
                         value.get<int64_t>() >= low && value.get<int64_t>() <= high);
  if (!in_range) fail(field, range(low, high), shown(value));
  return value.get<int64_t>();
}

bool CheckpointFields::boolean(const nlohmann::json& value, const std::string& field) const {
  if (!value.is_boolean()) fail(field, "true or false", shown(value));
  return value.get<bool>();
}

const nlohmann::json& CheckpointFields::array(const nlohmann::json& value, const std::string& field,
                                              size_t size) const {
  if (!value.is_array() || value.size() != size) {
    fail(field, "a list of " + std::to_string(size), shown(value));
  }
  return value;
}

void CheckpointFields::check_finite(const std::string& tensor, std::span<const std::byte> bytes,
                                    bool nonnegative) const {
  check_finite_tensor(file_, tensor, bytes, nonnegative);
}

void check_finite_tensor(const SafetensorsFile& file, const std::string& tensor,
                         std::span<const std::byte> bytes, bool nonnegative) {
  const size_t count = bytes.size() / sizeof(float);
  for (size_t i = 0; i < count; ++i) {
    float value = 0;  // the data need not be aligned for floats
    std::memcpy(&value, bytes.data() + i * sizeof(float), sizeof(float));
    if (nonnegative && value < 0) {
      throw InputError(file.path().string() + ": " + tensor + " holds a negative value (" +
                       std::to_string(value) + " at element " + std::to_string(i) +
                       "), which an accumulation of squares cannot; refusing to load it");
    }
    if (std::isfinite(value)) continue;
    const std::string kind = std::isnan(value) ? "NaN" : value > 0 ? "inf" : "-inf";
    throw InputError(file.path().string() + ": " + tensor + " holds a non-finite value (" + kind +
                     " at element " + std::to_string(i) + "); refusing to load it");
  }
}

}  // namespace loom
