#include "tests/support/allocation_counter.hpp"

#include <dlfcn.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

namespace {
std::atomic<bool> counting{false};
std::atomic<int64_t> engine_allocations{0};
std::atomic<int64_t> onednn_allocations{0};
thread_local bool inside_hook = false;

void record_allocation(void* caller) {
  if (!counting.load(std::memory_order_relaxed) || inside_hook) return;
  inside_hook = true;
  Dl_info info{};
  const bool from_onednn = dladdr(caller, &info) != 0 && info.dli_fname != nullptr &&
                           std::strstr(info.dli_fname, "libdnnl") != nullptr;
  (from_onednn ? onednn_allocations : engine_allocations).fetch_add(1, std::memory_order_relaxed);
  inside_hook = false;
}
}  // namespace

// A replacement operator delete must free what the replacement operator new malloc'ed; GCC 12
// cannot tell a replacement from a mismatch.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(size_t size) {
  record_allocation(__builtin_return_address(0));
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}
#pragma GCC diagnostic pop

namespace loom::testing {

AllocationCount count_allocations(const std::function<void()>& work) {
  engine_allocations = 0;
  onednn_allocations = 0;
  counting = true;
  work();
  counting = false;
  return {engine_allocations.load(), onednn_allocations.load()};
}

}  // namespace loom::testing
