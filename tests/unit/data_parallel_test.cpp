// The arithmetic of data parallelism, without MPI: how batches are sharded among ranks, and
// that weighting each rank's mean gradient by its share gives the whole batch's mean.

#include <gtest/gtest.h>

#include "engine/dist/communicator.hpp"
#include "engine/dist/gradient_reducer.hpp"

namespace loom::testing {
namespace {

TEST(Sharding, ShardsCoverTheBatchContiguouslyWithSizesWithinOne) {
  for (int64_t count : {0, 1, 5, 32, 33, 60000}) {
    for (int ranks : {1, 2, 3, 4, 7}) {
      int64_t next = 0, smallest = count, largest = 0;
      for (int rank = 0; rank < ranks; ++rank) {
        const Shard shard = shard_of(count, rank, ranks);
        EXPECT_EQ(shard.begin, next) << count << " among " << ranks;
        next = shard.end;
        smallest = std::min(smallest, shard.size());
        largest = std::max(largest, shard.size());
      }
      EXPECT_EQ(next, count);
      EXPECT_LE(largest - smallest, 1);
    }
  }
}

TEST(Sharding, AGlobalBatchThatDividesSplitsEvenly) {
  for (int rank = 0; rank < 4; ++rank) EXPECT_EQ(shard_of(32, rank, 4).size(), 8);
}

// Plays one rank of two: sum() adds what the other rank would send.
class TwoRankCommunicator final : public Communicator {
 public:
  explicit TwoRankCommunicator(std::vector<float> other) : other_(std::move(other)) {}
  int rank() const override { return 0; }
  int size() const override { return 2; }
  void sum(std::span<float> values) override {
    for (size_t i = 0; i < values.size(); ++i) values[i] += other_[i];
  }
  void sum(std::span<double>) override {}
  // Non-blocking sums complete at once (what the other rank sends is at the same offsets).
  void start_sum(std::span<float> values) override {
    for (size_t i = 0; i < values.size(); ++i) values[i] += other_[offset_ + i];
    offset_ += values.size();
  }
  void progress() override {}
  void finish_sums() override { offset_ = 0; }
  int minimum(int value) override { return value; }
  [[noreturn]] void abort(int) override { std::abort(); }
  std::string describe() const override { return "two ranks (simulated)"; }

 private:
  std::vector<float> other_;
  size_t offset_ = 0;
};

TEST(GradientReducer, SharesWeightedByTheirSamplesGiveTheBatchMean) {
  // A last partial batch of 4 samples split 3 / 1. This rank's mean gradient over its 3
  // samples is (1, 2 | 3); the other rank's over its 1 sample is (5, 6 | 7), which it sends
  // weighted by 1/4, followed by its loss sum (0.5) and no stop request.
  TwoRankCommunicator communicator({5.f / 4, 6.f / 4, 7.f / 4, 0.5f, 0.f});
  GradientReducer reducer(communicator, {2, 1}, {7, 7}, AllreduceMode::fused);
  float kernel[2] = {1, 2}, bias[1] = {3};
  float* gradients[2] = {kernel, bias};
  const GradientReducer::Totals totals = reducer.reduce(gradients, 3, 4, 1.5, false);
  EXPECT_FLOAT_EQ(kernel[0], (3 * 1.f + 5.f) / 4);
  EXPECT_FLOAT_EQ(kernel[1], (3 * 2.f + 6.f) / 4);
  EXPECT_FLOAT_EQ(bias[0], (3 * 3.f + 7.f) / 4);
  EXPECT_DOUBLE_EQ(totals.loss_sum, 2.0);
  EXPECT_FALSE(totals.stop);
}

TEST(GradientReducer, ARankWithNoSamplesAddsZerosAndAnyRankCanStopAll) {
  TwoRankCommunicator communicator({2.f, 4.f, 0.25f, 1.f});
  GradientReducer reducer(communicator, {2}, {3}, AllreduceMode::fused);
  float gradient[2] = {99, 99};  // left over from an earlier step: must not count
  float* gradients[1] = {gradient};
  const GradientReducer::Totals totals = reducer.reduce(gradients, 0, 1, 0.0, false);
  EXPECT_FLOAT_EQ(gradient[0], 2.f);
  EXPECT_FLOAT_EQ(gradient[1], 4.f);
  EXPECT_DOUBLE_EQ(totals.loss_sum, 0.25);
  EXPECT_TRUE(totals.stop) << "the other rank asked to stop";
}

// Overlapped mode cuts the buffer into buckets in the order the backward pass finishes the
// gradients (here the big kernel, written by node 3, before the bias, written by node 9); a
// bucket closes once it holds 16k values. The average is the same as with one buffer.
TEST(GradientReducer, BucketsInBackwardOrderGiveTheSameAverage) {
  const int64_t big = 20000;
  std::vector<float> other(size_t(big + 1 + 2), 0.f);
  other[0] = 4.f;                // the kernel's first element (first bucket)
  other[size_t(big)] = 8.f;      // the bias (second bucket)
  other[size_t(big) + 1] = 1.f;  // the loss sum rides in the last bucket
  TwoRankCommunicator communicator(other);
  GradientReducer reducer(communicator, {big, 1}, {3, 9}, AllreduceMode::overlapped);
  EXPECT_EQ(reducer.buckets(), 2u);
  std::vector<float> kernel(size_t(big), 2.f);
  float bias[1] = {6.f};
  float* gradients[2] = {kernel.data(), bias};
  const GradientReducer::Totals totals = reducer.reduce(gradients, 1, 2, 3.0, false);
  EXPECT_FLOAT_EQ(kernel[0], 2.f / 2 + 4.f);
  EXPECT_FLOAT_EQ(kernel[1], 2.f / 2);
  EXPECT_FLOAT_EQ(bias[0], 6.f / 2 + 8.f);
  EXPECT_DOUBLE_EQ(totals.loss_sum, 4.0);
}

TEST(Communicator, OneProcessIsRankZeroOfOne) {
  Communicator& one = single_process();
  EXPECT_EQ(one.rank(), 0);
  EXPECT_EQ(one.size(), 1);
  EXPECT_TRUE(one.is_root());
  std::vector<float> values = {1, 2};
  one.sum(values);
  EXPECT_EQ(values, (std::vector<float>{1, 2}));
}

}  // namespace
}  // namespace loom::testing
