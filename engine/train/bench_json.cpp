#include "engine/train/bench_json.hpp"

#include <nlohmann/json.hpp>

namespace loom {

namespace {

nlohmann::json node_timings(const std::vector<NodeTiming>& timings) {
  nlohmann::json nodes = nlohmann::json::array();
  for (const NodeTiming& node : timings) {
    nodes.push_back({{"name", node.name},
                     {"op", node.op},
                     {"backward", node.backward},
                     {"milliseconds", node.milliseconds},
                     {"flops", node.flops},
                     {"implementation", node.implementation}});
  }
  return nodes;
}

}  // namespace

std::string to_json(const BenchReport& r) {
  const nlohmann::json json = {{"batch", r.batch},
                               {"threads", r.threads},
                               {"repetitions", r.repetitions},
                               {"train_samples_per_second", r.train_samples_per_second},
                               {"train_samples_per_second_min", r.train_samples_per_second_min},
                               {"train_samples_per_second_max", r.train_samples_per_second_max},
                               {"inference_samples_per_second", r.inference_samples_per_second},
                               {"step_milliseconds", r.step_milliseconds},
                               {"data_milliseconds", r.data_milliseconds},
                               {"graph_milliseconds", r.graph_milliseconds},
                               {"allreduce_milliseconds", r.allreduce_milliseconds},
                               {"optimizer_milliseconds", r.optimizer_milliseconds},
                               {"ranks", r.ranks},
                               {"cpu", r.cpu},
                               {"cpu_isa", r.cpu_isa},
                               {"step_flops", r.step_flops},
                               {"achieved_gflops", r.achieved_gflops},
                               {"peak_gflops", r.peak_gflops},
                               {"arena_bytes", r.arena_bytes},
                               {"unplanned_bytes", r.unplanned_bytes},
                               {"plan_bytes", r.plan_bytes},
                               {"scratchpad_bytes", r.scratchpad_bytes},
                               {"parameter_bytes", r.parameter_bytes},
                               {"optimizer_state_bytes", r.optimizer_state_bytes},
                               {"peak_rss_bytes", r.peak_rss_bytes},
                               {"layouts", r.negotiated_layouts ? "negotiated" : "plain"},
                               {"training_reorders", r.training_reorders},
                               {"inference_reorders", r.inference_reorders},
                               {"nodes", node_timings(r.nodes)}};
  return json.dump(2) + "\n";
}

}  // namespace loom
