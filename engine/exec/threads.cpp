#include "engine/exec/threads.hpp"

#include <omp.h>

#include <atomic>

#include "engine/exec/runtime.hpp"

namespace loom {

namespace {

// The largest count when adaptive (OpenMP's count when it was enabled: a tuner may have left
// OpenMP on fewer since), else 0.
std::atomic<int>& adaptive_top() {
  static std::atomic<int> top{0};
  return top;
}

}  // namespace

void set_adaptive_threads(bool adaptive) {
  adaptive_top().store(adaptive ? omp_get_max_threads() : 0);
}

bool adaptive_threads() {
  return adaptive_top().load() > 0;
}

std::vector<int> thread_counts_for_new_plans() {
  const int top = adaptive_top().load();
  if (top == 0) return {omp_get_max_threads()};
  std::vector<int> counts{top};
  while (counts.back() > 1) counts.push_back(counts.back() / 2);
  return counts;
}

void Runtime::use_thread_slot(size_t slot) {
  thread_slot = slot;
  omp_set_num_threads(thread_counts.at(slot));
}

}  // namespace loom
