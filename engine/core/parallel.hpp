#pragma once
// An element-wise loop that is vectorized always and spread over the OpenMP threads only
// when it is long enough to pay for waking them: `#pragma omp parallel for if(...)` still
// enters the OpenMP runtime when the condition is false (about a microsecond a call, which
// is as long as updating a 512-element bias).

#include <cstdint>

namespace loom {

inline constexpr int64_t kParallelElements = 1 << 15;

template <typename Body>
inline void for_each_element(int64_t count, const Body& body) {
  if (count >= kParallelElements) {
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < count; ++i) body(i);
  } else {
#pragma omp simd
    for (int64_t i = 0; i < count; ++i) body(i);
  }
}

// Whether every value is finite (NaN and infinities survive multiplication by zero), read
// with for_each_element's partition: a check that precedes an element-wise update leaves
// each thread's share of the values in the cache of the core that updates it next.
inline bool all_finite(const float* values, int64_t count) {
  float probe = 0.f;
  if (count >= kParallelElements) {
#pragma omp parallel for simd schedule(static) reduction(+ : probe)
    for (int64_t i = 0; i < count; ++i) probe += values[i] * 0.f;
  } else {
#pragma omp simd reduction(+ : probe)
    for (int64_t i = 0; i < count; ++i) probe += values[i] * 0.f;
  }
  return probe == 0.f;
}

}  // namespace loom
