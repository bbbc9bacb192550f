#include "engine/graph/attributes.hpp"

#include <charconv>
#include <sstream>

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
    case AttributeKind::reals:
      return "a list of numbers";
  }
  return "?";
}

AttributeKind kind_of(const AttributeValue& value) {
  return static_cast<AttributeKind>(value.index());
}

std::string shortest_text(double value) {
  char text[32];
  const auto end = std::to_chars(text, text + sizeof text, value).ptr;
  return std::string(text, end);
}

namespace {

template <typename T>
std::string list_text(const std::vector<T>& values) {
  std::ostringstream text;
  text << "[";
  for (size_t i = 0; i < values.size(); ++i) {
    text << (i ? ", " : "") << to_string(AttributeValue(values[i]));
  }
  text << "]";
  return text.str();
}

}  // namespace

std::string to_string(const AttributeValue& value) {
  struct Printer {
    std::string operator()(bool v) const { return v ? "true" : "false"; }
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(double v) const { return shortest_text(v); }
    std::string operator()(const std::string& v) const { return v; }
    std::string operator()(const std::vector<int64_t>& v) const { return list_text(v); }
    std::string operator()(const std::vector<double>& v) const { return list_text(v); }
  };
  return std::visit(Printer{}, value);
}

std::string AttributeRange::interval() const {
  std::ostringstream text;
  text << (min_inclusive ? "[" : "(") << min << ", " << max << (max_inclusive ? "]" : ")");
  return text.str();
}

std::string AttributeRange::integer_bounds() const {
  const auto whole = [](double value) { return std::to_string(int64_t(value)); };
  if (max == std::numeric_limits<double>::infinity()) return "at least " + whole(min);
  return "between " + whole(min) + " and " + whole(max);
}

bool AttributeRange::is_unbounded() const {
  return min == -std::numeric_limits<double>::infinity() &&
         max == std::numeric_limits<double>::infinity();
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

namespace {

const AttributeValue& resolved(const std::map<std::string, AttributeValue>& values,
                               const std::string& name) {
  const auto it = values.find(name);
  if (it == values.end()) throw RuntimeError("option '" + name + "' was not resolved");
  return it->second;
}

template <typename T>
const T& resolved_as(const std::map<std::string, AttributeValue>& values, const std::string& name) {
  if (const T* typed = std::get_if<T>(&resolved(values, name))) return *typed;
  throw RuntimeError("option '" + name + "' has the wrong type");
}

}  // namespace

bool Attributes::boolean(const std::string& name) const {
  return resolved_as<bool>(values_, name);
}

int64_t Attributes::integer(const std::string& name) const {
  return resolved_as<int64_t>(values_, name);
}

double Attributes::real(const std::string& name) const {
  if (const int64_t* integer = std::get_if<int64_t>(&resolved(values_, name))) return *integer;
  return resolved_as<double>(values_, name);
}

const std::string& Attributes::text(const std::string& name) const {
  return resolved_as<std::string>(values_, name);
}

const std::vector<int64_t>& Attributes::integers(const std::string& name) const {
  return resolved_as<std::vector<int64_t>>(values_, name);
}

const std::vector<double>& Attributes::reals(const std::string& name) const {
  return resolved_as<std::vector<double>>(values_, name);
}

std::optional<double> Attributes::optional_real(const std::string& name) const {
  if (!has(name)) return std::nullopt;
  return real(name);
}

}  // namespace loom
