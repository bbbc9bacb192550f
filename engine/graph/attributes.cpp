#include "engine/graph/attributes.hpp"

#include "engine/core/error.hpp"

namespace loom {

std::string to_string(AttributeKind kind) {
  switch (kind) {
    case AttributeKind::boolean:
      return "a boolean";
    case AttributeKind::integer:
      return "an integer";
    case AttributeKind::real:
      return "a number";
    case AttributeKind::text:
      return "a string";
    case AttributeKind::integers:
      return "a list of integers";
  }
  return "?";
}

AttributeKind kind_of(const AttributeValue& value) {
  return static_cast<AttributeKind>(value.index());
}

std::string to_string(const AttributeValue& value) {
  struct Printer {
    std::string operator()(bool v) const { return v ? "true" : "false"; }
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(double v) const { return std::to_string(v); }
    std::string operator()(const std::string& v) const { return v; }
    std::string operator()(const std::vector<int64_t>& v) const {
      std::string text = "[";
      for (size_t i = 0; i < v.size(); ++i) text += (i ? ", " : "") + std::to_string(v[i]);
      return text + "]";
    }
  };
  return std::visit(Printer{}, value);
}

namespace {

template <typename T>
T get_or(const std::map<std::string, AttributeValue>& values, const std::string& name, T fallback) {
  const auto it = values.find(name);
  if (it == values.end()) return fallback;
  if (const T* typed = std::get_if<T>(&it->second)) return *typed;
  throw InputError("attribute '" + name + "' has the wrong type");
}

}  // namespace

bool Attributes::get_bool(const std::string& name, bool fallback) const {
  return get_or(values_, name, fallback);
}

int64_t Attributes::get_int(const std::string& name, int64_t fallback) const {
  return get_or(values_, name, fallback);
}

double Attributes::get_real(const std::string& name, double fallback) const {
  const auto it = values_.find(name);
  if (it != values_.end()) {
    if (const int64_t* integer = std::get_if<int64_t>(&it->second)) return *integer;
  }
  return get_or(values_, name, fallback);
}

std::string Attributes::get_text(const std::string& name, const std::string& fallback) const {
  return get_or(values_, name, fallback);
}

std::vector<int64_t> Attributes::get_ints(const std::string& name,
                                          std::vector<int64_t> fallback) const {
  return get_or(values_, name, std::move(fallback));
}

}  // namespace loom
