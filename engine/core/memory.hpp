#pragma once
// How much memory this process may still take, and byte counts for messages. A job that
// cannot fit is refused before it allocates (see engine/train/memory_estimate.hpp), with the
// figures, instead of ending in std::bad_alloc after minutes of work.

#include <cstdint>
#include <string>

namespace loom {

// The least of: MemAvailable (/proc/meminfo, else free physical pages), what the cgroup's
// memory.max leaves above its current use, what RLIMIT_AS leaves above this process's
// address space, and what RLIMIT_DATA leaves above its data (heap and anonymous mappings; a
// read-only file mapping is not data). Never less than zero.
int64_t available_memory_bytes();

// "41.2 GiB", "512.0 MiB", "4.0 KiB", "12 bytes".
std::string format_bytes(int64_t bytes);

}  // namespace loom
