#include "tools/flags.hpp"

#include <omp.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <sstream>

#include "engine/config/config_node.hpp"
#include "engine/core/error.hpp"

namespace loom {

namespace {

std::optional<int64_t> parse_whole(const std::string& text) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return {};
  return value;
}

}  // namespace

std::optional<int> resolve_thread_count(int flag) {
  const int most = kThreadsPerCore * std::max(1, omp_get_num_procs());
  const auto range = [&] {
    return "a whole number from 1 to " + std::to_string(most) + " (" +
           std::to_string(kThreadsPerCore) + " per core on this " +
           std::to_string(omp_get_num_procs()) + "-core machine)";
  };
  if (flag != 0) {
    if (flag < 0 || flag > most) {
      throw InputError("--threads " + std::to_string(flag) + ": expected " + range() +
                       ", or 0 for every core");
    }
    return flag;
  }
  const char* variable = std::getenv("LOOM_THREADS");
  if (variable == nullptr || *variable == '\0') return std::nullopt;
  const std::optional<int64_t> value = parse_whole(variable);
  if (!value || *value < 1 || *value > most) {
    throw InputError(std::string("LOOM_THREADS=") + variable + ": expected " + range());
  }
  return int(*value);
}

uint64_t parse_seed(const std::string& text) {
  const std::optional<int64_t> value = parse_whole(text);
  if (!value || *value < 0) {
    throw InputError("--seed " + text + ": expected a whole number from 0 to " +
                     std::to_string(std::numeric_limits<int64_t>::max()));
  }
  return uint64_t(*value);
}

int64_t parse_count(const std::string& flag, const std::string& text, int64_t high) {
  const std::optional<int64_t> value = parse_whole(text);
  if (!value || *value < 1 || *value > high) {
    throw InputError(flag + " " + text + ": expected a whole number from 1 to " +
                     std::to_string(high));
  }
  return *value;
}

Shape parse_shape(const std::string& text, int64_t max_elements) {
  Shape shape;
  int64_t elements = 1;
  std::stringstream parts(text);
  for (std::string part; std::getline(parts, part, ',');) {
    const std::optional<int64_t> size = parse_whole(part);
    if (!size || *size <= 0) {
      throw InputError("--shape " + text +
                       ": expected positive sizes separated by commas, e.g. 4,5");
    }
    if (*size > max_elements / elements) {
      throw InputError("--shape " + text + ": more than " + std::to_string(max_elements) +
                       " elements, the most a gradient check takes");
    }
    elements *= *size;
    shape.push_back(*size);
  }
  if (shape.empty()) throw InputError("--shape " + text + ": expected sizes, e.g. 4,5");
  return shape;
}

double expect_finite_in(const std::string& flag, double value, double low, double high) {
  if (!std::isfinite(value) || value < low || value > high) {
    std::ostringstream message;
    message << flag << " " << value << ": expected a finite number from " << low << " to " << high;
    throw InputError(message.str());
  }
  return value;
}

std::optional<std::string> unknown_subcommand_message(int argc, char** argv,
                                                      std::span<const std::string> known) {
  if (argc < 2 || argv[1][0] == '-') return std::nullopt;
  const std::string given = argv[1];
  if (std::ranges::find(known, given) != known.end()) return std::nullopt;
  std::string list, closest;
  size_t best = 3;  // suggest only near misses
  for (const std::string& name : known) {
    list += (list.empty() ? "" : ", ") + name;
    if (const size_t distance = edit_distance(given, name); distance < best) {
      best = distance;
      closest = name;
    }
  }
  return "unknown command '" + given + "'" +
         (closest.empty() ? "" : " (did you mean '" + closest + "'?)") + "; the commands are " +
         list + " (see trainer --help)";
}

}  // namespace loom
