#pragma once
// The free space of an arena whose live blocks come and go in any order, for the memory
// planner's first fit: the lowest offset where a block of a given size fits, in O(log n) for
// n live blocks (a scan over the live blocks made planning a long graph quadratic).

#include <cstdint>
#include <map>
#include <vector>

namespace loom {

class FreeGaps {
 public:
  // Reserves `bytes` at the lowest offset where they fit between the live blocks (or after
  // the last one) and returns that offset. Zero bytes take no space: offset 0.
  int64_t allocate(int64_t bytes);
  // Returns a block that allocate() gave out; its space joins the free space around it.
  void release(int64_t offset, int64_t bytes);

 private:
  // The gaps between live blocks, keyed by offset, in a treap (a binary search tree by offset,
  // a heap by random priority) whose nodes also hold the largest gap of their subtree, so the
  // lowest gap of at least a size is found by one walk down.
  struct Gap {
    int64_t offset, bytes, largest;
    uint32_t priority;
    int32_t left = -1, right = -1;
  };
  int32_t lowest_fitting(int64_t bytes) const;
  void insert_gap(int64_t offset, int64_t bytes);
  void erase_gap(int64_t offset);
  void update(int32_t node);
  int32_t merge(int32_t left, int32_t right);
  void split(int32_t node, int64_t offset, int32_t& below, int32_t& at_or_above);

  std::vector<Gap> gaps_;  // the treap's nodes; erased ones are reused from `unused_`
  std::vector<int32_t> unused_;
  int32_t root_ = -1;
  uint32_t random_ = 0x9e3779b9u;
  std::map<int64_t, int64_t> live_;  // offset -> bytes of every live block of nonzero size
};

}  // namespace loom
