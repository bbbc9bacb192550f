#include "engine/config/config_node.hpp"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <map>
#include <sstream>
#include <vector>

#include "engine/core/error.hpp"
#include "engine/core/input_file.hpp"

namespace loom {

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

// YAML allows what a config must not: keys that are lists or maps, the same key twice (of
// which yaml-cpp would read only the first), an anchor used inside itself (`x: &a [*a]`,
// which yaml-cpp turns into a node that contains itself, so every walk over it recurses
// forever), and aliases nested into a "billion laughs" that is small on disk and huge to
// walk. All are rejected for the whole document at once, at their positions, by one
// iterative walk that counts every value it reaches through aliases and stops at a depth no
// config needs.
struct PendingNode {
  YAML::Node node;
  std::string path;
  int depth;
  size_t parent;  // index into the walk's trail of ancestors, or kNoParent
};
constexpr size_t kNoParent = static_cast<size_t>(-1);

[[noreturn]] void refuse_depth(const std::vector<PendingNode>& trail, size_t parent,
                               const YAML::Node& node, const std::string& file,
                               const std::string& path) {
  // A value that contains itself shows as the same source position repeating down the
  // path (an alias shares its anchor's node, mark and all); named at its outermost
  // occurrence, where the user wrote the anchor.
  const auto same_place = [](const YAML::Mark& a, const YAML::Mark& b) {
    return a.pos == b.pos && a.line == b.line && a.column == b.column;
  };
  std::vector<size_t> path_up;  // the ancestors, deepest first
  for (size_t ancestor = parent; ancestor != kNoParent; ancestor = trail[ancestor].parent) {
    path_up.push_back(ancestor);
  }
  size_t outermost = kNoParent;
  for (size_t i = 0; i < path_up.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (same_place(trail[path_up[i]].node.Mark(), trail[path_up[j]].node.Mark())) {
        outermost = path_up[i];
      }
    }
  }
  if (outermost != kNoParent) {
    const PendingNode& cycle = trail[outermost];
    throw InputError(position(file, cycle.node.Mark()) + ": " +
                     (cycle.path.empty() ? "(top level)" : cycle.path) +
                     ": this value contains itself through an alias (an anchor used inside its "
                     "own value)");
  }
  throw InputError(position(file, node.Mark()) + ": " + path + ": nested deeper than " +
                   std::to_string(kMaxConfigDepth) + " levels");
}

void check_keys(const YAML::Node& root, const std::string& file, const std::string& root_path) {
  std::vector<PendingNode> trail;  // every node visited, for the ancestors of a deep one
  std::vector<PendingNode> pending{{root, root_path, 0, kNoParent}};
  int64_t values = 0;
  while (!pending.empty()) {
    PendingNode item = std::move(pending.back());
    pending.pop_back();
    if (++values > kMaxConfigValues) {
      throw InputError(position(file, item.node.Mark()) + ": " + item.path +
                       ": the config expands to more than " + std::to_string(kMaxConfigValues) +
                       " values (aliases nested inside aliases?)");
    }
    if (item.depth > kMaxConfigDepth) refuse_depth(trail, item.parent, item.node, file, item.path);
    if (!item.node.IsSequence() && !item.node.IsMap()) continue;
    const size_t self = trail.size();
    trail.push_back(item);
    const int depth = item.depth + 1;
    if (item.node.IsSequence()) {
      for (size_t i = item.node.size(); i-- > 0;) {
        pending.push_back({item.node[i], item.path + "[" + std::to_string(i) + "]", depth, self});
      }
      continue;
    }
    std::map<std::string, YAML::Mark> seen;
    std::vector<PendingNode> children;
    for (const auto& entry : item.node) {
      if (!entry.first.IsScalar()) {
        throw InputError(position(file, entry.first.Mark()) + ": " +
                         (item.path.empty() ? "(top level)" : item.path) +
                         ": expected a key name, got " +
                         (entry.first.IsMap() ? "a map" : "a list"));
      }
      const std::string& key = entry.first.Scalar();
      const auto [first, inserted] = seen.emplace(key, entry.first.Mark());
      if (!inserted) {
        throw InputError(position(file, entry.first.Mark()) + ": " + join_path(item.path, key) +
                         ": the key '" + key + "' is given twice (first at line " +
                         std::to_string(first->second.line + 1) + ")");
      }
      children.push_back({entry.second, join_path(item.path, key), depth, self});
    }
    pending.insert(pending.end(), std::make_move_iterator(children.rbegin()),
                   std::make_move_iterator(children.rend()));
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

// Every node of an override's value (checked by check_keys first: finite and acyclic).
void collect_nodes(const YAML::Node& root, std::vector<YAML::Node>& into) {
  std::vector<YAML::Node> pending{root};
  while (!pending.empty()) {
    YAML::Node node = pending.back();
    pending.pop_back();
    into.push_back(node);
    if (node.IsMap()) {
      for (const auto& entry : node) pending.push_back(entry.second);
    } else if (node.IsSequence()) {
      for (const auto& item : node) pending.push_back(item);
    }
  }
}

}  // namespace

ConfigNode ConfigNode::load_file(const std::filesystem::path& file) {
  return parse_text(InputFile(file, "config file").read_all(kMaxConfigBytes), file.string());
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
  auto fail = [&](const std::string& what) {
    throw InputError("--set " + assignment + ": " + what);
  };
  // A list index within the list, whatever digits the user typed (no wrap, no exception).
  auto index_into = [&](const YAML::Node& list, const std::string& key) {
    size_t index = 0;
    const auto [end, error] = std::from_chars(key.data(), key.data() + key.size(), index);
    if (key.empty() || end != key.data() + key.size() || error != std::errc()) {
      fail("'" + key + "' is not an index into the list at that place");
    }
    if (index >= list.size()) {
      fail("index " + key + " is past the end of a list of " + std::to_string(list.size()));
    }
    return index;
  };
  YAML::Node current = root;
  for (size_t i = 0; i + 1 < keys.size(); ++i) {
    const std::string& key = keys[i];
    YAML::Node next;
    if (current.IsSequence()) {
      next = current[index_into(current, key)];
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
    current[index_into(current, last)] = value;
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
