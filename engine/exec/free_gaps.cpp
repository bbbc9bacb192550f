#include "engine/exec/free_gaps.hpp"

#include <algorithm>

#include "engine/core/error.hpp"

namespace loom {

void FreeGaps::update(int32_t node) {
  Gap& gap = gaps_[size_t(node)];
  gap.largest = gap.bytes;
  if (gap.left >= 0) gap.largest = std::max(gap.largest, gaps_[size_t(gap.left)].largest);
  if (gap.right >= 0) gap.largest = std::max(gap.largest, gaps_[size_t(gap.right)].largest);
}

int32_t FreeGaps::merge(int32_t left, int32_t right) {
  if (left < 0) return right;
  if (right < 0) return left;
  if (gaps_[size_t(left)].priority > gaps_[size_t(right)].priority) {
    gaps_[size_t(left)].right = merge(gaps_[size_t(left)].right, right);
    update(left);
    return left;
  }
  gaps_[size_t(right)].left = merge(left, gaps_[size_t(right)].left);
  update(right);
  return right;
}

void FreeGaps::split(int32_t node, int64_t offset, int32_t& below, int32_t& at_or_above) {
  if (node < 0) {
    below = at_or_above = -1;
    return;
  }
  Gap& gap = gaps_[size_t(node)];
  if (gap.offset < offset) {
    split(gap.right, offset, gaps_[size_t(node)].right, at_or_above);
    below = node;
  } else {
    split(gap.left, offset, below, gaps_[size_t(node)].left);
    at_or_above = node;
  }
  update(node);
}

int32_t FreeGaps::lowest_fitting(int64_t bytes) const {
  int32_t node = root_;
  while (node >= 0 && gaps_[size_t(node)].largest >= bytes) {
    const Gap& gap = gaps_[size_t(node)];
    if (gap.left >= 0 && gaps_[size_t(gap.left)].largest >= bytes) {
      node = gap.left;
    } else if (gap.bytes >= bytes) {
      return node;
    } else {
      node = gap.right;
    }
  }
  return -1;
}

void FreeGaps::insert_gap(int64_t offset, int64_t bytes) {
  if (bytes <= 0) return;
  random_ ^= random_ << 13;  // xorshift32: priorities need only be spread, not secret
  random_ ^= random_ >> 17;
  random_ ^= random_ << 5;
  const Gap gap{.offset = offset, .bytes = bytes, .largest = bytes, .priority = random_};
  int32_t node;
  if (unused_.empty()) {
    node = int32_t(gaps_.size());
    gaps_.push_back(gap);
  } else {
    node = unused_.back();
    unused_.pop_back();
    gaps_[size_t(node)] = gap;
  }
  int32_t below, above;
  split(root_, offset, below, above);
  root_ = merge(merge(below, node), above);
}

void FreeGaps::erase_gap(int64_t offset) {
  int32_t below, rest, at, above;
  split(root_, offset, below, rest);
  split(rest, offset + 1, at, above);
  if (at >= 0) unused_.push_back(at);  // a gap is one node: offsets are distinct
  root_ = merge(below, above);
}

int64_t FreeGaps::allocate(int64_t bytes) {
  if (bytes <= 0) return 0;
  int64_t offset;
  if (const int32_t node = lowest_fitting(bytes); node >= 0) {
    offset = gaps_[size_t(node)].offset;
    const int64_t gap = gaps_[size_t(node)].bytes;
    erase_gap(offset);
    insert_gap(offset + bytes, gap - bytes);
  } else {
    // After the last live block.
    offset = live_.empty() ? 0 : live_.rbegin()->first + live_.rbegin()->second;
  }
  live_.emplace(offset, bytes);
  return offset;
}

void FreeGaps::release(int64_t offset, int64_t bytes) {
  if (bytes <= 0) return;
  const auto block = live_.find(offset);
  if (block == live_.end() || block->second != bytes) {
    throw RuntimeError("memory plan: releasing a block that is not live");
  }
  // The free space around the block becomes one gap from the end of the block before it to
  // the start of the block after it; with no block after it, it is all past the last block.
  const int64_t begin =
      block == live_.begin() ? 0 : std::prev(block)->first + std::prev(block)->second;
  const auto next = std::next(block);
  live_.erase(block);
  if (begin < offset) erase_gap(begin);
  if (next == live_.end()) return;
  if (offset + bytes < next->first) erase_gap(offset + bytes);
  insert_gap(begin, next->first - begin);
}

}  // namespace loom
