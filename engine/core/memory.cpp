#include "engine/core/memory.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>

namespace loom {

namespace {

// The first number in a file (a cgroup's memory.max holds "max" when there is no limit).
std::optional<int64_t> read_number(const char* path) {
  std::ifstream in(path);
  int64_t value = 0;
  if (in >> value) return value;
  return std::nullopt;
}

// MemAvailable from /proc/meminfo, in bytes: free memory plus what the kernel can reclaim.
std::optional<int64_t> mem_available() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    if (!line.starts_with("MemAvailable:")) continue;
    std::istringstream fields(line.substr(13));
    int64_t kib = 0;
    if (fields >> kib) return kib * 1024;
  }
  return std::nullopt;
}

// What the cgroup (v2, else v1) lets this process's group still take.
std::optional<int64_t> cgroup_headroom() {
  for (const auto& [limit_file, usage_file] :
       {std::pair{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
        std::pair{"/sys/fs/cgroup/memory/memory.limit_in_bytes",
                  "/sys/fs/cgroup/memory/memory.usage_in_bytes"}}) {
    const auto limit = read_number(limit_file);
    if (!limit) continue;
    return *limit - read_number(usage_file).value_or(0);
  }
  return std::nullopt;
}

// What RLIMIT_AS leaves above the address space already mapped (/proc/self/statm's first
// field counts it in pages).
std::optional<int64_t> address_space_headroom() {
  rlimit limit{};
  if (getrlimit(RLIMIT_AS, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return std::nullopt;
  const int64_t pages = read_number("/proc/self/statm").value_or(0);
  return int64_t(limit.rlim_cur) - pages * int64_t(sysconf(_SC_PAGE_SIZE));
}

// What RLIMIT_DATA leaves above the private writable memory already mapped (VmData in
// /proc/self/status, in KiB): the heap and anonymous mappings count, read-only file mappings
// (a memory-mapped data set) do not.
std::optional<int64_t> data_segment_headroom() {
  rlimit limit{};
  if (getrlimit(RLIMIT_DATA, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return std::nullopt;
  std::ifstream in("/proc/self/status");
  std::string line;
  int64_t used_kib = 0;
  while (std::getline(in, line)) {
    if (!line.starts_with("VmData:")) continue;
    std::istringstream(line.substr(7)) >> used_kib;
    break;
  }
  return int64_t(limit.rlim_cur) - used_kib * 1024;
}

}  // namespace

int64_t available_memory_bytes() {
  int64_t available = mem_available().value_or(int64_t(sysconf(_SC_AVPHYS_PAGES)) *
                                               int64_t(sysconf(_SC_PAGE_SIZE)));
  for (const auto& headroom :
       {cgroup_headroom(), address_space_headroom(), data_segment_headroom()}) {
    if (headroom) available = std::min(available, *headroom);
  }
  return std::max<int64_t>(available, 0);
}

std::string format_bytes(int64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes < 1024) return std::to_string(bytes) + " bytes";
  double value = double(bytes) / 1024.0;
  size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  return text;
}

}  // namespace loom
