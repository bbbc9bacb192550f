#include "engine/config/config_node.hpp"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "engine/core/error.hpp"

namespace loom {

std::string join_names(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

ConfigNode::ConfigNode() : ConfigNode(YAML::Node(), "", "<defaults>") {}

ConfigNode::ConfigNode(YAML::Node node, std::string path, const std::string& file)
    : ConfigNode(std::move(node), std::move(path), std::make_shared<Source>(Source{file, {}})) {}

ConfigNode::ConfigNode(YAML::Node node, std::string path, std::shared_ptr<Source> source)
    : node_(std::move(node)), path_(std::move(path)), source_(std::move(source)) {}

namespace {

std::string position(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null()) return file;
  return file + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

std::string join_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

// YAML allows what a config must not: keys that are lists or maps, and (in yaml-cpp) the
// same key twice, of which only the first would be read. Both are rejected for the whole
// document at once, at the key's position.
void check_keys(const YAML::Node& node, const std::string& file, const std::string& path) {
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      check_keys(node[i], file, path + "[" + std::to_string(i) + "]");
    }
    return;
  }
  if (!node.IsMap()) return;
  std::map<std::string, YAML::Mark> seen;
  for (const auto& entry : node) {
    if (!entry.first.IsScalar()) {
      throw InputError(position(file, entry.first.Mark()) + ": " +
                       (path.empty() ? "(top level)" : path) + ": expected a key name, got " +
                       (entry.first.IsMap() ? "a map" : "a list"));
    }
    const std::string& key = entry.first.Scalar();
    const auto [first, inserted] = seen.emplace(key, entry.first.Mark());
    if (!inserted) {
      throw InputError(position(file, entry.first.Mark()) + ": " + join_path(path, key) +
                       ": the key '" + key + "' is given twice (first at line " +
                       std::to_string(first->second.line + 1) + ")");
    }
    check_keys(entry.second, file, join_path(path, key));
  }
}

YAML::Node parse_yaml(const std::string& text, const std::string& label) {
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsDefined() || root.IsNull()) throw InputError(label + ": the config is empty");
    check_keys(root, label, "");
    return root;
  } catch (const YAML::ParserException& error) {
    throw InputError(position(label, error.mark) + ": YAML syntax error: " + error.msg);
  }
}

ConfigNode parse_text(const std::string& text, const std::string& label) {
  return ConfigNode(parse_yaml(text, label), "", label);
}

void collect_nodes(const YAML::Node& node, std::vector<YAML::Node>& into) {
  into.push_back(node);
  if (node.IsMap()) {
    for (const auto& entry : node) collect_nodes(entry.second, into);
  } else if (node.IsSequence()) {
    for (const auto& item : node) collect_nodes(item, into);
  }
}

// Single-character insertions, deletions and substitutions between two keys (Levenshtein).
size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t substituted = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      diagonal = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, substituted});
    }
  }
  return row[b.size()];
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
  std::string place;
  for (const auto& [value, assignment] : source_->overrides) {
    if (node_.IsDefined() && value.is(node_)) place = "--set " + assignment;
  }
  if (place.empty()) {
    place = position(source_->file, node_.IsDefined() ? node_.Mark() : YAML::Mark::null_mark());
  }
  return path_.empty() ? place : place + ": " + path_;
}

std::string ConfigNode::where_key(const std::string& key) const {
  for (const auto& [value, assignment] : source_->overrides) {
    if (node_.IsDefined() && value.is(node_))
      return "--set " + assignment + ": " + join_path(path_, key);
  }
  if (node_.IsMap()) {
    for (const auto& entry : node_) {
      if (entry.first.Scalar() == key) {
        return position(source_->file, entry.first.Mark()) + ": " + join_path(path_, key);
      }
    }
  }
  return where();
}

ConfigNode ConfigNode::with(YAML::Node node, std::string path) const {
  return ConfigNode(std::move(node), std::move(path), source_);
}

void ConfigNode::fail(const std::string& what) const {
  throw InputError(where() + ": " + what);
}

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
  return ConfigNode(node_[key], join_path(path_, key), source_);
}

ConfigNode ConfigNode::at(const std::string& key) {
  if (auto child = find(key)) return *child;
  // A required key is most often missing because it is misspelt: point at the misspelling.
  if (node_.IsMap()) {
    for (const auto& entry : node_) {
      const std::string& written = entry.first.Scalar();
      if (!known_.contains(written) && edit_distance(written, key) <= 2) {
        throw InputError(where_key(written) + ": unknown key '" + written + "' (did you mean '" +
                         key + "'? it is required)");
      }
    }
  }
  fail("the key '" + key + "' is required");
}

std::vector<std::pair<std::string, ConfigNode>> ConfigNode::entries() const {
  expect_map();
  std::vector<std::pair<std::string, ConfigNode>> result;
  for (const auto& entry : node_) {
    const std::string& key = entry.first.Scalar();
    result.emplace_back(key, ConfigNode(entry.second, join_path(path_, key), source_));
  }
  return result;
}

void ConfigNode::finish(const std::string& owner) const {
  expect_map();
  for (const auto& entry : node_) {
    const std::string& key = entry.first.Scalar();
    if (known_.contains(key)) continue;
    const std::vector<std::string> known(known_.begin(), known_.end());
    throw InputError(where_key(key) + ": unknown key '" + key + "'" +
                     (owner.empty() ? "" : " " + owner) +
                     " (known: " + (known.empty() ? "none" : join_names(known)) + ")");
  }
}

ConfigNode ConfigNode::operator[](size_t index) const {
  expect_sequence();
  return ConfigNode(node_[index], path_ + "[" + std::to_string(index) + "]", source_);
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

void ConfigNode::apply_override(const std::string& assignment) {
  YAML::Node root = node_;
  const size_t equals = assignment.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw InputError("--set " + assignment + ": expected key.path=value");
  }
  const std::string path = assignment.substr(0, equals);
  const std::string text = assignment.substr(equals + 1);
  if (text.empty()) throw InputError("--set " + assignment + ": expected a value after '='");
  YAML::Node value;
  try {
    value = YAML::Load(text);
  } catch (const YAML::ParserException& error) {
    throw InputError("--set " + assignment + ": the value is not valid YAML: " + error.msg);
  }
  check_keys(value, "--set " + assignment, path);
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
  auto fail = [&](const std::string& what) {
    throw InputError("--set " + assignment + ": " + what);
  };
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
  std::vector<YAML::Node> nodes;
  collect_nodes(value, nodes);
  for (const YAML::Node& node : nodes) source_->overrides.emplace_back(node, assignment);
}

}  // namespace loom
