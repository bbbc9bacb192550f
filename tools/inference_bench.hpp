#pragma once
// `trainer bench --inference MODEL`: what a user of the C++ API (include/loom/model.hpp) gets
// from an exported model: the latency of one call (p50, p99) and the throughput, at batch 1,
// 32 and 256, measured through loom::Model itself.

#include <cstdint>
#include <loom/model.hpp>
#include <string>
#include <vector>

namespace loom {

struct InferenceTiming {
  int64_t batch = 0;
  int64_t calls = 0;
  double p50_milliseconds = 0;  // per call (a whole batch)
  double p99_milliseconds = 0;
  double samples_per_second = 0;  // batch over the mean call
};

// `calls` timed calls per batch size after a warm-up (plans compiled, kernels JIT-generated).
std::vector<InferenceTiming> time_inference(Model& model, const std::vector<int64_t>& batches,
                                            int64_t calls);
std::string format_inference_timings(const Model& model,
                                     const std::vector<InferenceTiming>& timings, int threads);

}  // namespace loom
