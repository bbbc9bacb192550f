#include "engine/config/config_node.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/core/error.hpp"

namespace loom {

std::string join_names(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

ConfigNode::ConfigNode(YAML::Node node, std::string path, std::shared_ptr<const std::string> file)
    : node_(std::move(node)), path_(std::move(path)), file_(std::move(file)) {}

namespace {

std::string position(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null()) return file;
  return file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

ConfigNode parse_text(const std::string& text, const std::string& label) {
  auto file = std::make_shared<const std::string>(label);
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsDefined() || root.IsNull()) throw InputError(label + ": the config is empty");
    return ConfigNode(root, "", file);
  } catch (const YAML::ParserException& error) {
    throw InputError(position(label, error.mark) + ": YAML syntax error: " + error.msg);
  }
}

}  // namespace

ConfigNode ConfigNode::load_file(const std::filesystem::path& file) {
  std::ifstream stream(file);
  if (!stream) {
    throw InputError(file.string() + ": cannot read the config file (" +
                     std::string(std::strerror(errno)) + ")");
  }
  std::stringstream text;
  text << stream.rdbuf();
  return parse_text(text.str(), file.string());
}

ConfigNode ConfigNode::parse(const std::string& text, const std::string& label) {
  return parse_text(text, label);
}

std::string ConfigNode::where() const {
  const std::string place = position(*file_, node_.IsDefined() ? node_.Mark() : YAML::Mark::null_mark());
  return path_.empty() ? place : place + ": " + path_;
}

void ConfigNode::fail(const std::string& what) const { throw InputError(where() + ": " + what); }

std::string ConfigNode::describe_value() const {
  if (is_null()) return "nothing";
  if (node_.IsMap()) return "a map";
  if (node_.IsSequence()) return "a list";
  return "'" + node_.Scalar() + "'";
}

void ConfigNode::expect_map() const {
  if (!node_.IsMap()) fail("expected a map of keys, got " + describe_value());
}

void ConfigNode::expect_sequence() const {
  if (!node_.IsSequence()) fail("expected a list, got " + describe_value());
}

bool ConfigNode::has(const std::string& key) {
  known_.insert(key);
  if (is_null()) return false;  // an absent option map: every option takes its default
  expect_map();
  return static_cast<bool>(node_[key]);
}

std::optional<ConfigNode> ConfigNode::find(const std::string& key) {
  if (!has(key)) return std::nullopt;
  return ConfigNode(node_[key], path_.empty() ? key : path_ + "." + key, file_);
}

ConfigNode ConfigNode::at(const std::string& key) {
  if (auto child = find(key)) return *child;
  fail("the key '" + key + "' is required");
}

std::vector<std::pair<std::string, ConfigNode>> ConfigNode::entries() const {
  expect_map();
  std::vector<std::pair<std::string, ConfigNode>> result;
  for (const auto& entry : node_) {
    const std::string key = entry.first.as<std::string>();
    result.emplace_back(key, ConfigNode(entry.second, path_.empty() ? key : path_ + "." + key, file_));
  }
  return result;
}

void ConfigNode::finish() const {
  expect_map();
  for (const auto& entry : node_) {
    const std::string key = entry.first.as<std::string>();
    if (known_.contains(key)) continue;
    const std::vector<std::string> known(known_.begin(), known_.end());
    const std::string where_key = position(*file_, entry.first.Mark()) + ": " +
                                  (path_.empty() ? key : path_ + "." + key);
    throw InputError(where_key + ": unknown key '" + key + "' (known: " + join_names(known) + ")");
  }
}

ConfigNode ConfigNode::operator[](size_t index) const {
  expect_sequence();
  return ConfigNode(node_[index], path_ + "[" + std::to_string(index) + "]", file_);
}

std::string ConfigNode::as_string() const {
  if (!node_.IsScalar()) fail("expected a string, got " + describe_value());
  return node_.Scalar();
}

int64_t ConfigNode::as_int(int64_t min, int64_t max) const {
  if (!node_.IsScalar()) fail("expected an integer, got " + describe_value());
  const std::string& text = node_.Scalar();
  char* end = nullptr;
  errno = 0;
  const long long value = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || *end != '\0' || errno == ERANGE) {
    fail("expected an integer, got " + describe_value());
  }
  if (value < min || value > max) {
    std::string range = max == std::numeric_limits<int64_t>::max()
                            ? "at least " + std::to_string(min)
                            : "between " + std::to_string(min) + " and " + std::to_string(max);
    fail("expected an integer " + range + ", got " + text);
  }
  return value;
}

double ConfigNode::as_real(double min, double max) const {
  if (!node_.IsScalar()) fail("expected a number, got " + describe_value());
  const std::string& text = node_.Scalar();
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(value)) {
    fail("expected a number, got " + describe_value());
  }
  if (value < min || value > max) {
    std::ostringstream range;
    range << "expected a number in [" << min << ", " << max << "], got " << text;
    fail(range.str());
  }
  return value;
}

bool ConfigNode::as_bool() const {
  if (node_.IsScalar()) {
    const std::string& text = node_.Scalar();
    if (text == "true" || text == "True" || text == "TRUE") return true;
    if (text == "false" || text == "False" || text == "FALSE") return false;
  }
  fail("expected true or false, got " + describe_value());
}

std::vector<int64_t> ConfigNode::as_int_list(int64_t min) const {
  expect_sequence();
  std::vector<int64_t> values;
  for (size_t i = 0; i < size(); ++i) values.push_back((*this)[i].as_int(min));
  return values;
}

std::string ConfigNode::get_string(const std::string& key, const std::string& fallback) {
  const auto child = find(key);
  return child ? child->as_string() : fallback;
}

int64_t ConfigNode::get_int(const std::string& key, int64_t fallback, int64_t min, int64_t max) {
  const auto child = find(key);
  return child ? child->as_int(min, max) : fallback;
}

double ConfigNode::get_real(const std::string& key, double fallback, double min, double max) {
  const auto child = find(key);
  return child ? child->as_real(min, max) : fallback;
}

bool ConfigNode::get_bool(const std::string& key, bool fallback) {
  const auto child = find(key);
  return child ? child->as_bool() : fallback;
}

void apply_override(YAML::Node root, const std::string& assignment) {
  const size_t equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw InputError("--set " + assignment + ": expected key.path=value");
  }
  const std::string path = assignment.substr(0, equals);
  YAML::Node value;
  try {
    value = YAML::Load(assignment.substr(equals + 1));
  } catch (const YAML::ParserException& error) {
    throw InputError("--set " + assignment + ": the value is not valid YAML: " + error.msg);
  }
  std::vector<std::string> keys;
  std::stringstream parts(path);
  for (std::string key; std::getline(parts, key, '.');) {
    if (key.empty()) throw InputError("--set " + assignment + ": empty key in '" + path + "'");
    keys.push_back(key);
  }
  // Walk down, creating maps for missing keys; a number indexes into a list
  // (--set model.layers.0.dense=1024). reset() rebinds a node handle instead of assigning.
  auto is_index = [](const std::string& key) {
    return std::ranges::all_of(key, [](char c) { return c >= '0' && c <= '9'; });
  };
  auto fail = [&](const std::string& what) { throw InputError("--set " + assignment + ": " + what); };
  YAML::Node current = root;
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    const std::string& key = keys[i];
    YAML::Node next;
    if (current.IsSequence()) {
      if (!is_index(key)) fail("'" + key + "' is not an index into the list at that place");
      const size_t index = std::stoul(key);
      if (index >= current.size()) {
        fail("index " + key + " is past the end of a list of " + std::to_string(current.size()));
      }
      next = current[index];
    } else if (current.IsMap()) {
      next = current[key];
      if (!next.IsDefined() || next.IsNull()) {
        current[key] = YAML::Node(YAML::NodeType::Map);
        next = current[key];
      }
    } else {
      fail("'" + key + "' is inside a value that is neither a map nor a list");
    }
    current.reset(next);
  }
  const std::string& last = keys.back();
  if (current.IsSequence()) {
    if (!is_index(last) || std::stoul(last) >= current.size()) {
      fail("'" + last + "' is not an index into the list at that place");
    }
    current[std::stoul(last)] = value;
  } else if (current.IsMap()) {
    current[last] = value;
  } else {
    fail("'" + path + "' is not inside a map or a list");
  }
}

}  // namespace loom
