#pragma once
// Counts the heap allocations a piece of work makes, split by who asked: oneDNN 2.6 itself
// allocates inside dnnl_primitive_execute (it rebuilds an argument map and std::functions on
// every call, beyond our reach); everything else, the engine included, is "engine". A test
// that uses this replaces operator new for its whole program (allocation_counter.cpp).

#include <cstdint>
#include <functional>

namespace loom::testing {

struct AllocationCount {
  int64_t engine = 0;
  int64_t onednn = 0;
};

AllocationCount count_allocations(const std::function<void()>& work);

}  // namespace loom::testing
