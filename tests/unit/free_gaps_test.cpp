// The memory planner's allocator: the same offsets as a first fit scanning the live blocks
// (what the planner did before it kept the free gaps in a tree), on random sequences of
// allocations and releases in random order.

#include "engine/exec/free_gaps.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

namespace loom {
namespace {

struct Block {
  int64_t offset, bytes;
};

// The lowest offset where `bytes` fit between `live` (sorted by offset), or after the last.
int64_t scanned_first_fit(const std::vector<Block>& live, int64_t bytes) {
  int64_t candidate = 0;
  for (const Block& block : live) {
    if (candidate + bytes <= block.offset) return candidate;
    candidate = std::max(candidate, block.offset + block.bytes);
  }
  return candidate;
}

TEST(FreeGaps, PlacesEveryBlockWhereAScanningFirstFitWould) {
  std::mt19937_64 random(7);
  for (int round = 0; round < 20; ++round) {
    FreeGaps gaps;
    std::vector<Block> live;
    for (int step = 0; step < 2000; ++step) {
      const bool allocate = live.empty() || random() % 100 < 55;
      if (allocate) {
        const int64_t bytes = 64 * int64_t(1 + random() % (round % 2 == 0 ? 4 : 64));
        const int64_t expected = scanned_first_fit(live, bytes);
        ASSERT_EQ(gaps.allocate(bytes), expected) << "round " << round << ", step " << step;
        live.insert(std::ranges::upper_bound(live, expected, {}, &Block::offset),
                    Block{expected, bytes});
      } else {
        const auto victim = live.begin() + std::ptrdiff_t(random() % live.size());
        gaps.release(victim->offset, victim->bytes);
        live.erase(victim);
      }
    }
  }
}

TEST(FreeGaps, FreedNeighboursMergeIntoOneGap) {
  FreeGaps gaps;
  EXPECT_EQ(gaps.allocate(64), 0);
  EXPECT_EQ(gaps.allocate(64), 64);
  EXPECT_EQ(gaps.allocate(64), 128);
  EXPECT_EQ(gaps.allocate(64), 192);
  gaps.release(64, 64);
  gaps.release(128, 64);
  EXPECT_EQ(gaps.allocate(128), 64) << "the two freed blocks are one gap of 128 bytes";
  gaps.release(0, 64);
  EXPECT_EQ(gaps.allocate(128), 256) << "64 free bytes at 0 do not hold 128";
  EXPECT_EQ(gaps.allocate(64), 0);
  EXPECT_EQ(gaps.allocate(0), 0);
}

}  // namespace
}  // namespace loom
