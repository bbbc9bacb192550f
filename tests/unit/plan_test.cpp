// The compiled plan: the memory planner never lets two live values share bytes, reuse makes
// the arena smaller than one buffer per value, a plan's primitives share one scratchpad, and a
// training step allocates nothing.

#include <gtest/gtest.h>

#include <cstring>
#include <numeric>

#include "engine/config/build_graph.hpp"
#include "engine/config/experiment.hpp"
#include "engine/exec/memory_plan.hpp"
#include "engine/exec/shared_scratchpad.hpp"
#include "engine/train/trainer.hpp"
#include "tests/support/allocation_counter.hpp"
#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

Experiment book_model(const std::vector<std::string>& extra = {}) {
  std::vector<std::string> overrides = {"data.train.limit=1000", "data.test.limit=100"};
  overrides.insert(overrides.end(), extra.begin(), extra.end());
  return load_experiment(source_path("configs/fashion_mnist_mlp.yaml"), overrides);
}

struct Interval {
  int64_t begin, end;  // node indices: defined at begin, last read at end
};

// True when `output` was written over `input` by their node, as the op allows.
bool written_in_place(const Graph& graph, const MemoryPlan& plan, size_t input, size_t output) {
  const NodeId producer = graph.values()[output].producer;
  if (producer == kNoProducer) return false;
  const Node& node = graph.node(producer);
  const auto index = node.op->in_place_input(node);
  return index && node.outputs[0] == ValueId(output) && node.inputs[*index] == ValueId(input) &&
         plan.arena_offset[input] == plan.arena_offset[output];
}

TEST(MemoryPlan, LiveValuesNeverOverlapAndReuseShrinksTheArena) {
  // Batch 256: the activations, not the 1.6 MB weight gradient, dominate the arena.
  const Graph graph = build_training_graph(book_model(), 256);
  std::vector<ValueId> pinned = {*graph.loss(), *graph.prediction()};
  for (const ParameterGradient& g : graph.parameter_gradients()) pinned.push_back(g.gradient);
  const MemoryPlan plan = plan_memory(graph, pinned);
  EXPECT_LT(plan.arena_bytes, plan.unplanned_bytes);
  EXPECT_GE(plan.in_place, 1) << "relu_backward can write its dx over dy";

  const auto node_count = static_cast<int64_t>(graph.nodes().size());
  std::vector<Interval> live(graph.values().size(), {-1, -1});
  for (int64_t n = 0; n < node_count; ++n) {
    for (ValueId output : graph.node(NodeId(n)).outputs) live[size_t(output)] = {n, n};
    for (ValueId input : graph.node(NodeId(n)).inputs) live[size_t(input)].end = n;
  }
  for (ValueId v : pinned) live[size_t(v)].end = node_count;

  for (size_t a = 0; a < live.size(); ++a) {
    for (size_t b = a + 1; b < live.size(); ++b) {
      if (plan.arena_offset[a] < 0 || plan.arena_offset[b] < 0) continue;
      if (written_in_place(graph, plan, a, b) || written_in_place(graph, plan, b, a)) continue;
      const bool overlap_in_time = live[a].begin <= live[b].end && live[b].begin <= live[a].end;
      const int64_t a_end = plan.arena_offset[a] + graph.values()[a].type.bytes();
      const int64_t b_end = plan.arena_offset[b] + graph.values()[b].type.bytes();
      const bool overlap_in_space = plan.arena_offset[a] < b_end && plan.arena_offset[b] < a_end;
      EXPECT_FALSE(overlap_in_time && overlap_in_space)
          << graph.values()[a].name << " and " << graph.values()[b].name
          << " share memory while both live";
    }
  }
}

TEST(SharedScratchpad, EveryPrimitiveGetsTheSameBytesSizedForTheLargest) {
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  SharedScratchpad scratchpad;
  const auto bytes = [](int64_t n) {
    return dnnl::memory::desc({n}, dnnl::memory::data_type::u8, dnnl::memory::format_tag::a);
  };
  const dnnl::memory small = scratchpad.bind(bytes(100), engine);
  const dnnl::memory large = scratchpad.bind(bytes(5000), engine);
  const dnnl::memory middle = scratchpad.bind(bytes(700), engine);
  EXPECT_EQ(small.get_data_handle(), nullptr);  // nothing to point at before allocate()
  scratchpad.allocate();
  EXPECT_EQ(scratchpad.bytes(), 5000u);
  EXPECT_NE(small.get_data_handle(), nullptr);
  EXPECT_EQ(small.get_data_handle(), large.get_data_handle());
  EXPECT_EQ(middle.get_data_handle(), large.get_data_handle());
  EXPECT_THROW(scratchpad.bind(bytes(10), engine), std::logic_error);
}

TEST(Plan, ATrainingStepAllocatesNothing) {
  Trainer trainer(book_model());
  std::vector<uint32_t> indices(32);
  std::iota(indices.begin(), indices.end(), 0u);
  trainer.step(indices, 32);  // warm-up: oneDNN JIT-compiles kernels on first use
  trainer.step(indices, 32);
  const AllocationCount count = count_allocations([&] {
    for (int step = 0; step < 10; ++step) trainer.step(indices, 32);
  });
  EXPECT_EQ(count.engine, 0) << "heap allocations outside oneDNN in 10 steps";
  std::printf("oneDNN's own allocations per step: %.1f\n", double(count.onednn) / 10.0);
}

TEST(Trainer, EvaluationCountsEveryImageIncludingTheLastPartialBatch) {
  Trainer trainer(book_model({"data.test.limit=0"}));
  ASSERT_TRUE(trainer.test_data().has_value());
  ASSERT_EQ(trainer.test_data()->size(), 10000);
  const Evaluation evaluation = trainer.evaluate(*trainer.test_data());
  EXPECT_EQ(evaluation.samples, 10000);      // 312 batches of 32 and one of 16
  ASSERT_EQ(evaluation.metrics.size(), 1u);  // accuracy
  EXPECT_GT(evaluation.metrics[0], 0.0);     // untrained: about one in ten
}

TEST(Trainer, TrainsOnAPartialLastBatchToo) {
  // 1000 samples at batch 96: 10 full batches and one of 40; the loss must still fall.
  Trainer trainer(book_model({"trainer.batch_size=96", "trainer.epochs=3"}));
  const auto progress = make_silent_reporter();
  EXPECT_EQ(trainer.fit(*progress), FitOutcome::finished);
  const std::vector<EpochRecord>& history = trainer.history();
  ASSERT_EQ(history.size(), 3u);
  EXPECT_LT(history[2].loss, history[0].loss);
}

TEST(Trainer, SameSeedGivesTheSameLossHistory) {
  const auto progress = make_silent_reporter();
  Trainer first(book_model({"trainer.epochs=2"}));
  Trainer second(book_model({"trainer.epochs=2"}));
  first.fit(*progress);
  second.fit(*progress);
  const auto& a = first.history();
  const auto& b = second.history();
  ASSERT_EQ(a.size(), 2u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].loss, b[i].loss);
    EXPECT_EQ(a[i].test_loss, b[i].test_loss);
  }
}

}  // namespace
}  // namespace loom::testing
