#pragma once
// A YAML node that knows where it came from. Every error it raises reads
//   configs/x.yaml:14:9: model.layers[1].activation: <what was expected>
// and a map remembers which keys were asked for, so finish() can reject the unknown ones
// with the list of known keys (a typo is an error, never a silently ignored setting).

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "engine/core/join_names.hpp"

namespace loom {

// What a config may be. Real configs are a few KiB, 10 levels deep; an explicit graph of
// 100,000 nodes is about 5 MiB and 800,000 values (yaml-cpp holds ~80 bytes per byte of text).
constexpr int64_t kMaxConfigBytes = int64_t{16} << 20;
constexpr int64_t kMaxConfigValues = 4'000'000;  // counted through aliases
constexpr int kMaxConfigDepth = 64;

class ConfigNode {
 public:
  ConfigNode();  // an absent node: every optional key takes its default
  ConfigNode(YAML::Node node, std::string path, const std::string& file);

  // Parse errors carry file:line:col. A missing or unreadable file is an InputError too.
  static ConfigNode load_file(const std::filesystem::path& file);
  static ConfigNode parse(const std::string& text, const std::string& label = "<text>");

  const std::string& path() const { return path_; }
  const std::string& file() const { return source_->file; }
  const YAML::Node& yaml() const { return node_; }
  // "file:line:col: path", or "--set a.b=c: path" for a value that came from an override.
  std::string where() const;
  std::string where_key(const std::string& key) const;  // the position of a key of this map
  [[noreturn]] void fail(const std::string& what) const;

  // Applies a "key.path=value" override (value in YAML syntax; a number indexes a list)
  // before validation; the value is then checked exactly like the file's own text, and its
  // errors name the --set that gave it.
  void apply_override(const std::string& assignment);

  bool is_map() const { return node_.IsMap(); }
  bool is_sequence() const { return node_.IsSequence(); }
  bool is_scalar() const { return node_.IsScalar(); }
  bool is_null() const { return !node_.IsDefined() || node_.IsNull(); }

  // Maps. Asking for a key marks it known, whether or not it is present.
  void expect_map() const;
  bool has(const std::string& key);
  std::optional<ConfigNode> find(const std::string& key);
  ConfigNode at(const std::string& key);  // required
  std::vector<std::pair<std::string, ConfigNode>> entries() const;
  // An error for the first key nobody asked for; `owner` adds context ("for op 'matmul'").
  void finish(const std::string& owner = "") const;
  void allow(const std::string& key) { known_.insert(key); }

  // Sequences.
  void expect_sequence() const;
  size_t size() const { return node_.size(); }
  ConfigNode operator[](size_t index) const;
  // A node elsewhere in the same file (or override), for values kept apart from their parent.
  ConfigNode with(YAML::Node node, std::string path) const;

  // Scalars, with what was expected in the error.
  std::string as_string() const;
  int64_t as_int(int64_t min = std::numeric_limits<int64_t>::min(),
                 int64_t max = std::numeric_limits<int64_t>::max()) const;
  double as_real(double min = -std::numeric_limits<double>::infinity(),
                 double max = std::numeric_limits<double>::infinity()) const;
  bool as_bool() const;
  std::vector<int64_t> as_int_list(int64_t min = std::numeric_limits<int64_t>::min()) const;

  // Optional keys with defaults (the key becomes known).
  std::string get_string(const std::string& key, const std::string& fallback);
  int64_t get_int(const std::string& key, int64_t fallback,
                  int64_t min = std::numeric_limits<int64_t>::min(),
                  int64_t max = std::numeric_limits<int64_t>::max());
  double get_real(const std::string& key, double fallback,
                  double min = -std::numeric_limits<double>::infinity(),
                  double max = std::numeric_limits<double>::infinity());
  bool get_bool(const std::string& key, bool fallback);

 private:
  struct Source {
    std::string file;
    std::vector<std::pair<YAML::Node, std::string>> overrides;  // value nodes and their --set
  };
  ConfigNode(YAML::Node node, std::string path, std::shared_ptr<Source> source);
  std::string describe_value() const;
  std::string key_name(const YAML::Node& key) const;

  YAML::Node node_;
  std::string path_;
  std::shared_ptr<Source> source_;
  std::set<std::string> known_;
};

// Single-character insertions, deletions and substitutions between two words (Levenshtein),
// for "did you mean" suggestions.
size_t edit_distance(const std::string& a, const std::string& b);

}  // namespace loom
