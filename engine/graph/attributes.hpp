#pragma once
// Node attributes and options: a small, typed name -> value map filled by the config or by
// passes, and the spec that declares each name (its kind, default, range and doc). Ops declare
// their attributes with it; optimizers, schedules, metrics and callbacks their options. Read
// when a node is built or compiled, or an optimizer created, never inside a training step.

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace loom {

using AttributeValue =
    std::variant<bool, int64_t, double, std::string, std::vector<int64_t>, std::vector<double>>;

// In the order of AttributeValue's alternatives (kind_of relies on it).
enum class AttributeKind { boolean, integer, real, text, integers, reals };

std::string to_string(AttributeKind kind);
AttributeKind kind_of(const AttributeValue& value);
std::string to_string(const AttributeValue& value);  // numbers in their shortest exact form
// The shortest text that reads back as the same double ("1e-07", not 9.9999999999999995e-08).
std::string shortest_text(double value);

class Attributes {
 public:
  Attributes() = default;
  Attributes(std::initializer_list<std::pair<const std::string, AttributeValue>> values)
      : values_(values) {}

  void set(const std::string& name, AttributeValue value) { values_[name] = std::move(value); }
  bool has(const std::string& name) const { return values_.contains(name); }

  bool get_bool(const std::string& name, bool fallback) const;
  int64_t get_int(const std::string& name, int64_t fallback) const;
  double get_real(const std::string& name, double fallback) const;
  std::string get_text(const std::string& name, const std::string& fallback) const;
  std::vector<int64_t> get_ints(const std::string& name, std::vector<int64_t> fallback) const;

  // Options resolved against their spec (every default filled in): a missing name is a bug.
  bool boolean(const std::string& name) const;
  int64_t integer(const std::string& name) const;
  double real(const std::string& name) const;  // an integer value reads as a real
  const std::string& text(const std::string& name) const;
  const std::vector<int64_t>& integers(const std::string& name) const;
  const std::vector<double>& reals(const std::string& name) const;
  // An option whose absence means "off" (clipnorm, warmup_target).
  std::optional<double> optional_real(const std::string& name) const;

  const std::map<std::string, AttributeValue>& all() const { return values_; }

 private:
  std::map<std::string, AttributeValue> values_;
};

// The values a number may take. Integers use min and max (whole numbers) and always include
// them; a real's bound may be excluded ("(0, 1]": lion's beta_1).
struct AttributeRange {
  double min = -std::numeric_limits<double>::infinity();
  double max = std::numeric_limits<double>::infinity();
  bool min_inclusive = true;
  bool max_inclusive = true;

  bool contains(double value) const {
    return (min_inclusive ? value >= min : value > min) &&
           (max_inclusive ? value <= max : value < max);
  }
  // "[0, 1]", "(0, 1]", "[0, inf]" (a real's range), as the config's errors print it.
  std::string interval() const;
  // "at least 1", "between 1 and 8" (an integer's range).
  std::string integer_bounds() const;
  bool is_unbounded() const;
};

// What a key that is not written means.
enum class WhenAbsent {
  unset,      // left out of the values; the reader has its own fallback (an op's attributes)
  defaulted,  // the spec's default value is filled in
  required,   // an error: "the key 'x' is required"
  off,        // the feature is off, as `null` also says (clipnorm, warmup_target)
};

// One attribute or option. An op's attributes need only name, kind and help (the config
// checks each written attribute against them and the op applies its own fallbacks); options
// also declare what absence means, their default, their range (for a list: each element's)
// and, for text, the values it may take.
struct AttributeSpec {
  std::string name;
  AttributeKind kind;
  std::string help;
  WhenAbsent when_absent = WhenAbsent::unset;
  std::optional<AttributeValue> default_value;  // with WhenAbsent::defaulted
  AttributeRange range;
  std::vector<std::string> choices;  // a text option's allowed values (empty: any)
};

}  // namespace loom
