#pragma once
// Node attributes: a small, typed name -> value map filled by the config or by passes.
// Read when a node is built or compiled, never inside a training step.

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace loom {

using AttributeValue = std::variant<bool, int64_t, double, std::string, std::vector<int64_t>>;

enum class AttributeKind { boolean, integer, real, text, integers };

std::string to_string(AttributeKind kind);
AttributeKind kind_of(const AttributeValue& value);
std::string to_string(const AttributeValue& value);

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

  const std::map<std::string, AttributeValue>& all() const { return values_; }

 private:
  std::map<std::string, AttributeValue> values_;
};

// What an op accepts: the config checks each written attribute against this list.
struct AttributeSpec {
  std::string name;
  AttributeKind kind;
  std::string help;
};

}  // namespace loom
