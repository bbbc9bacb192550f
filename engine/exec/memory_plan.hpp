#pragma once
// Where each value lives. Intermediates share one arena: a value's bytes are reused once
// its last reader has run (liveness-based first-fit), so a training step allocates nothing.

#include <cstdint>
#include <span>
#include <vector>

#include "engine/graph/graph.hpp"

namespace loom {

struct MemoryPlan {
  static constexpr int64_t kUnplaced = -1;
  std::vector<int64_t> arena_offset;  // per value; kUnplaced for non-intermediates
  int64_t arena_bytes = 0;            // the arena's size with reuse
  int64_t unplanned_bytes = 0;        // what one buffer per intermediate would take
  int in_place = 0;                   // outputs written over an input's buffer
};

// `pinned` values stay alive until the end of the step (the caller reads them afterwards:
// the loss, the prediction, the parameter gradients). `value_bytes` gives each value's buffer
// size when its layout pads (blocked formats); empty means every value is plain.
MemoryPlan plan_memory(const Graph& graph, const std::vector<ValueId>& pinned,
                       std::span<const int64_t> value_bytes = {});

}  // namespace loom
