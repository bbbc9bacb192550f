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

namespace loom {

class ConfigNode {
 public:
  ConfigNode(YAML::Node node, std::string path, std::shared_ptr<const std::string> file);

  // Parse errors carry file:line:col. A missing or unreadable file is an InputError too.
  static ConfigNode load_file(const std::filesystem::path& file);
  static ConfigNode parse(const std::string& text, const std::string& label = "<text>");

  const std::string& path() const { return path_; }
  const std::string& file() const { return *file_; }
  const YAML::Node& yaml() const { return node_; }
  std::string where() const;  // "file:line:col: path" (or "file: path" without a position)
  [[noreturn]] void fail(const std::string& what) const;

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
  void finish() const;  // an error for every key nobody asked for
  void allow(const std::string& key) { known_.insert(key); }

  // Sequences.
  void expect_sequence() const;
  size_t size() const { return node_.size(); }
  ConfigNode operator[](size_t index) const;

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
  std::string describe_value() const;

  YAML::Node node_;
  std::string path_;
  std::shared_ptr<const std::string> file_;
  std::set<std::string> known_;
};

// "a, b, c" for "(known: a, b, c)" messages.
std::string join_names(const std::vector<std::string>& names);

// Applies "key.path=value" overrides (value in YAML syntax) to a loaded config, before it is
// validated; an override is checked exactly like the file's own text.
void apply_override(YAML::Node root, const std::string& assignment);

}  // namespace loom
