// Flush-to-zero (engine/exec/denormals.hpp): set on the calling thread and OpenMP's threads,
// including threads OpenMP creates afterwards, and it changes what an optimizer computes
// exactly where it should: state decaying below float32's smallest normal becomes 0.

#include "engine/exec/denormals.hpp"

#include <gtest/gtest.h>
#include <omp.h>

#include <atomic>
#include <limits>
#include <vector>

#include "engine/optim/optimizer.hpp"

namespace loom::testing {
namespace {

// Restores IEEE subnormals and the thread count when a test ends.
class FlushGuard {
 public:
  FlushGuard() : threads_(omp_get_max_threads()) {}
  ~FlushGuard() {
    omp_set_num_threads(threads_);
    set_flush_denormals(false);
  }
  FlushGuard(const FlushGuard&) = delete;
  FlushGuard& operator=(const FlushGuard&) = delete;

 private:
  int threads_;
};

// How many of `threads` OpenMP threads flush, judged by arithmetic, not by reading a flag.
int threads_that_flush(int threads) {
  std::atomic<int> flushing{0};
  const float smallest_normal = std::numeric_limits<float>::min();
#pragma omp parallel num_threads(threads)
  {
    volatile float half = smallest_normal;
    half = half * 0.5f;  // a subnormal result: 0 when flushed
    if (half == 0.f && flushes_denormals()) ++flushing;
  }
  return flushing.load();
}

TEST(FlushDenormals, CoversTheCallingThreadOpenMpsPoolAndThreadsCreatedLater) {
  FlushGuard guard;
  omp_set_num_threads(2);
  ASSERT_TRUE(set_flush_denormals(true));
  EXPECT_TRUE(flushes_denormals());
  EXPECT_EQ(threads_that_flush(2), 2);
  EXPECT_EQ(threads_that_flush(4), 4);  // two threads the pool did not have when it was set
  ASSERT_TRUE(set_flush_denormals(false));
  EXPECT_FALSE(flushes_denormals());
  EXPECT_EQ(threads_that_flush(4), 0);
}

// RMSprop's velocity after one gradient of 1 and then zeros: 0.1·0.9^k, below the smallest
// normal float after 812 steps. 870 steps leave a subnormal in IEEE arithmetic and 0 flushed.
float velocity_after_decay(bool flush) {
  set_flush_denormals(flush);
  std::vector<float> weights(64, 0.5f), gradient(64, 1.f);
  auto optimizer = OptimizerRegistry::global().create(OptimizerSpec{.name = "rmsprop"});
  optimizer->bind({{"w", std::span<float>(weights)}});
  float* gradients[] = {gradient.data()};
  optimizer->step(gradients);
  std::fill(gradient.begin(), gradient.end(), 0.f);
  for (int step = 0; step < 870; ++step) optimizer->step(gradients);
  return optimizer->state().at(0).values[63];
}

TEST(FlushDenormals, DecidesWhetherOptimizerStateDecaysThroughTheSubnormals) {
  FlushGuard guard;
  const float kept = velocity_after_decay(false);
  EXPECT_GT(kept, 0.f);
  EXPECT_LT(kept, std::numeric_limits<float>::min());
  EXPECT_EQ(velocity_after_decay(true), 0.f);
}

}  // namespace
}  // namespace loom::testing
