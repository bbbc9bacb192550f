#include "engine/exec/memory_plan.hpp"

#include <algorithm>

#include "engine/exec/free_gaps.hpp"
#include "engine/graph/op.hpp"

namespace loom {

namespace {

constexpr int64_t kAlignment = 64;

int64_t aligned(int64_t bytes) {
  return (bytes + kAlignment - 1) / kAlignment * kAlignment;
}

}  // namespace

MemoryPlan plan_memory(const Graph& graph, const std::vector<ValueId>& pinned,
                       std::span<const int64_t> value_bytes) {
  const auto value_count = graph.values().size();
  const auto bytes_of = [&](ValueId v) {
    return value_bytes.empty() ? graph.value(v).type.bytes() : value_bytes[size_t(v)];
  };
  const auto node_count = static_cast<NodeId>(graph.nodes().size());
  MemoryPlan plan;
  plan.arena_offset.assign(value_count, MemoryPlan::kUnplaced);

  // The last node that reads each value; pinned values live past the last node.
  std::vector<NodeId> last_use(value_count, kNoProducer);
  for (NodeId id = 0; id < node_count; ++id) {
    for (ValueId input : graph.node(id).inputs) last_use[size_t(input)] = id;
  }
  for (ValueId v : pinned) last_use[size_t(v)] = node_count;

  FreeGaps arena;
  std::vector<bool> live(value_count, false);
  auto release = [&](ValueId v) {
    if (!live[size_t(v)]) return;
    live[size_t(v)] = false;
    arena.release(plan.arena_offset[size_t(v)], aligned(bytes_of(v)));
  };
  // Output 0 may take over the block of the input the op names, when this node is that
  // input's last reader and the sizes match.
  auto take_over = [&](const Node& node, NodeId id) -> bool {
    const std::optional<size_t> index = node.op->in_place_input(node);
    if (!index || node.outputs.empty()) return false;
    const ValueId input = node.inputs[*index];
    const ValueId output = node.outputs[0];
    if (graph.value(input).role != ValueRole::intermediate || last_use[size_t(input)] != id) {
      return false;
    }
    if (std::ranges::count(node.inputs, input) != 1) return false;
    if (bytes_of(input) != bytes_of(output)) return false;
    if (!live[size_t(input)]) return false;
    live[size_t(input)] = false;
    live[size_t(output)] = true;
    plan.arena_offset[size_t(output)] = plan.arena_offset[size_t(input)];
    plan.unplanned_bytes += aligned(bytes_of(output));
    ++plan.in_place;
    return true;
  };

  for (NodeId id = 0; id < node_count; ++id) {
    const Node& node = graph.node(id);
    const bool first_in_place = take_over(node, id);
    for (ValueId output : node.outputs) {
      if (first_in_place && output == node.outputs[0]) continue;
      const int64_t bytes = aligned(bytes_of(output));
      plan.unplanned_bytes += bytes;
      const int64_t offset = arena.allocate(bytes);
      plan.arena_offset[size_t(output)] = offset;
      plan.arena_bytes = std::max(plan.arena_bytes, offset + bytes);
      live[size_t(output)] = true;
    }
    // Free what this node read for the last time, and outputs nobody reads.
    for (ValueId input : node.inputs) {
      if (last_use[size_t(input)] == id && graph.value(input).role == ValueRole::intermediate) {
        release(input);
      }
    }
    for (ValueId output : node.outputs) {
      if (last_use[size_t(output)] == kNoProducer) release(output);
    }
  }
  return plan;
}

}  // namespace loom
