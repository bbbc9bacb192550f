#include "tools/inference_bench.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>

namespace loom {

namespace {

using Clock = std::chrono::steady_clock;

// The `fraction` quantile of sorted values (nearest rank).
double quantile(const std::vector<double>& sorted, double fraction) {
  const auto rank = size_t(fraction * double(sorted.size() - 1) + 0.5);
  return sorted[std::min(rank, sorted.size() - 1)];
}

InferenceTiming time_batch(Model& model, int64_t batch, int64_t calls) {
  std::mt19937 random(7);
  std::uniform_int_distribution<int> pixel(0, 255);
  std::vector<uint8_t> samples(size_t(batch * model.input_size()));
  for (uint8_t& value : samples) value = uint8_t(pixel(random));
  std::vector<float> outputs(size_t(batch * model.output_size()));
  for (int64_t i = 0; i < std::max<int64_t>(calls / 10, 3); ++i) {
    model.predict(samples.data(), batch, outputs.data());
  }
  std::vector<double> milliseconds(static_cast<size_t>(calls));
  for (double& call : milliseconds) {
    const auto start = Clock::now();
    model.predict(samples.data(), batch, outputs.data());
    call = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  }
  double total = 0;
  for (const double call : milliseconds) total += call;
  std::ranges::sort(milliseconds);
  return {.batch = batch,
          .calls = calls,
          .p50_milliseconds = quantile(milliseconds, 0.5),
          .p99_milliseconds = quantile(milliseconds, 0.99),
          .samples_per_second = double(batch) * double(calls) / (total / 1e3)};
}

}  // namespace

std::vector<InferenceTiming> time_inference(Model& model, const std::vector<int64_t>& batches,
                                            int64_t calls) {
  std::vector<InferenceTiming> timings;
  for (const int64_t batch : batches) timings.push_back(time_batch(model, batch, calls));
  return timings;
}

std::string format_inference_timings(const Model& model,
                                     const std::vector<InferenceTiming>& timings, int threads) {
  char line[256];
  std::string text = "inference of '" + model.name() + "' through the C++ API (" +
                     std::to_string(threads) + " threads):\n";
  std::snprintf(line, sizeof line, "%8s %8s %12s %12s %16s\n", "batch", "calls", "p50 ms", "p99 ms",
                "samples/s");
  text += line;
  for (const InferenceTiming& t : timings) {
    std::snprintf(line, sizeof line, "%8lld %8lld %12.4f %12.4f %16.0f\n",
                  static_cast<long long>(t.batch), static_cast<long long>(t.calls),
                  t.p50_milliseconds, t.p99_milliseconds, t.samples_per_second);
    text += line;
  }
  return text;
}

}  // namespace loom
