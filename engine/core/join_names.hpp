#pragma once
// "a, b, c" for the "(known: a, b, c)" lists of error messages, in every layer.

#include <string>
#include <vector>

namespace loom {

inline std::string join_names(const std::vector<std::string>& names) {
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ", ") + name;
  return text;
}

}  // namespace loom
