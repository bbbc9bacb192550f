#include "engine/config/read_options.hpp"

#include <limits>

#include "engine/config/experiment.hpp"
#include "engine/config/read_values.hpp"
#include "engine/core/error.hpp"

namespace loom {

namespace {

int64_t whole_bound(double bound) {
  if (bound <= double(std::numeric_limits<int64_t>::min())) {
    return std::numeric_limits<int64_t>::min();
  }
  if (bound >= double(std::numeric_limits<int64_t>::max())) {
    return std::numeric_limits<int64_t>::max();
  }
  return int64_t(bound);
}

// An inclusive range reads as ConfigNode's "expected a number in [0, 1], got 1.5"; a range
// that excludes a bound names the option, as lion's beta_1 always said: "beta_1 must be in
// (0, 1], got 0".
double read_real(const ConfigNode& node, const AttributeSpec& spec) {
  const AttributeRange& range = spec.range;
  if (range.min_inclusive && range.max_inclusive) return node.as_real(range.min, range.max);
  const double value = node.as_real();
  if (!range.contains(value)) {
    node.fail(spec.name + " must be in " + range.interval() + ", got " + node.as_string());
  }
  return value;
}

int64_t read_integer(const ConfigNode& node, const AttributeRange& range) {
  return node.as_int(whole_bound(range.min), whole_bound(range.max));
}

std::string read_text(const ConfigNode& node, const AttributeSpec& spec) {
  std::string value = node.as_string();
  if (!spec.choices.empty() && !contains(spec.choices, value)) {
    node.fail("unknown " + spec.name + " '" + value + "' (known: " + join_names(spec.choices) +
              ")");
  }
  return value;
}

template <typename Element, typename Read>
std::vector<Element> read_list(const ConfigNode& node, Read read) {
  node.expect_sequence();
  std::vector<Element> values;
  for (size_t i = 0; i < node.size(); ++i) values.push_back(read(node[i]));
  return values;
}

}  // namespace

AttributeValue read_option(const ConfigNode& node, const AttributeSpec& spec) {
  switch (spec.kind) {
    case AttributeKind::boolean:
      return node.as_bool();
    case AttributeKind::integer:
      return read_integer(node, spec.range);
    case AttributeKind::real:
      return read_real(node, spec);
    case AttributeKind::text:
      return read_text(node, spec);
    case AttributeKind::integers:
      return read_list<int64_t>(node,
                                [&](const ConfigNode& e) { return read_integer(e, spec.range); });
    case AttributeKind::reals:
      return read_list<double>(node, [&](const ConfigNode& e) { return read_real(e, spec); });
  }
  node.fail("unsupported option kind");
}

AttributeValue read_attribute(const ConfigNode& node, AttributeKind kind) {
  return read_option(node, AttributeSpec{.name = "", .kind = kind});
}

void read_declared_options(ConfigNode& node, std::span<const AttributeSpec> schema,
                           Attributes& values) {
  for (const AttributeSpec& spec : schema) {
    if (spec.when_absent == WhenAbsent::required) {
      values.set(spec.name, read_option(node.at(spec.name), spec));
      continue;
    }
    const auto written = node.find(spec.name);
    if (written && !(spec.when_absent == WhenAbsent::off && written->is_null())) {
      values.set(spec.name, read_option(*written, spec));
    } else if (spec.when_absent == WhenAbsent::defaulted && spec.default_value) {
      values.set(spec.name, *spec.default_value);
    }
  }
}

void fail_at(ConfigNode& node, const OptionProblem& problem) {
  if (problem.key.empty()) node.fail(problem.message);
  ConfigNode value = node.at(problem.key);
  if (problem.index) value[*problem.index].fail(problem.message);
  value.fail(problem.message);
}

Attributes read_options(ConfigNode node, std::span<const AttributeSpec> schema,
                        const std::string& owner, const OptionCheck& check) {
  if (!node.is_null()) node.expect_map();
  Attributes values;
  read_declared_options(node, schema, values);
  if (check) {
    if (const auto problem = check(values)) fail_at(node, *problem);
  }
  if (!node.is_null()) node.finish(owner);
  return values;
}

}  // namespace loom
