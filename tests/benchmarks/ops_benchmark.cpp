// Google Benchmark micro-benchmarks for the ops at the book model's shapes (batch 32,
// 784 -> 512 -> 10), for the book convnet's first max pool and for the optimizer update. Run:
// build/tests/ops_benchmark These measure; they assert nothing (ctest does not run them).

#include <benchmark/benchmark.h>

#include <numeric>

#include "engine/config/config_node.hpp"
#include "engine/exec/plan.hpp"
#include "engine/optim/optimizer.hpp"

namespace loom {
namespace {

struct SingleNode {
  Graph graph;
  ParameterStore parameters;
  Runtime runtime;
  std::unique_ptr<Plan> plan;
};

// One node whose inputs are all parameters (so the plan owns no input buffers to fill).
std::unique_ptr<SingleNode> single_node(const std::string& op, std::vector<TensorType> inputs,
                                        Attributes attributes = {}) {
  auto setup = std::make_unique<SingleNode>();
  std::vector<ValueId> ids;
  for (size_t i = 0; i < inputs.size(); ++i) {
    ids.push_back(
        inputs[i].dtype == DType::f32
            ? setup->graph.add_parameter("in" + std::to_string(i), inputs[i], {"glorot_uniform"})
            : setup->graph.add_input("in" + std::to_string(i), inputs[i]));
  }
  const auto outputs = setup->graph.add_node("node", op, ids, std::move(attributes));
  setup->graph.set_prediction(outputs[0]);
  setup->parameters.initialize_from(setup->graph, 1);
  setup->plan = std::make_unique<Plan>(setup->graph, setup->parameters, setup->runtime);
  return setup;
}

void run(benchmark::State& state, SingleNode& setup, int64_t flops) {
  for (auto _ : state) setup.plan->run();
  if (flops > 0) {
    state.counters["GFLOP/s"] = benchmark::Counter(double(flops) * double(state.iterations()) / 1e9,
                                                   benchmark::Counter::kIsRate);
  }
}

const TensorType f32(Shape shape) {
  return {DType::f32, std::move(shape)};
}

void BM_MatMulForward(benchmark::State& state) {
  const int64_t batch = state.range(0);
  auto setup = single_node("matmul", {f32({batch, 784}), f32({784, 512})});
  run(state, *setup, 2 * batch * 784 * 512);
}
BENCHMARK(BM_MatMulForward)->Arg(32)->Arg(128);

void BM_FusedMatMulBiasRelu(benchmark::State& state) {
  const int64_t batch = state.range(0);
  auto setup = single_node("fused_matmul", {f32({batch, 784}), f32({784, 512}), f32({512})},
                           {{"activation", std::string("relu")}});
  run(state, *setup, 2 * batch * 784 * 512);
}
BENCHMARK(BM_FusedMatMulBiasRelu)->Arg(32)->Arg(128);

void BM_MatMulWeightGradient(benchmark::State& state) {  // dW = xᵀ·dy over a transposed view
  const int64_t batch = state.range(0);
  auto setup =
      single_node("matmul", {f32({batch, 784}), f32({batch, 512})}, {{"transpose_a", true}});
  run(state, *setup, 2 * batch * 784 * 512);
}
BENCHMARK(BM_MatMulWeightGradient)->Arg(32)->Arg(128);

void BM_BiasGradientReduceSum(benchmark::State& state) {
  auto setup =
      single_node("reduce_sum", {f32({state.range(0), 512})}, {{"axes", std::vector<int64_t>{0}}});
  run(state, *setup, 0);
}
BENCHMARK(BM_BiasGradientReduceSum)->Arg(32)->Arg(128);

void BM_ReluBackward(benchmark::State& state) {
  auto setup =
      single_node("relu_backward", {f32({state.range(0), 512}), f32({state.range(0), 512})});
  run(state, *setup, 0);
}
BENCHMARK(BM_ReluBackward)->Arg(32)->Arg(128);

// The book convnet's first pool, 2×2 over [64, 26, 26, 32] channels last, forward alone and
// forward then backward (the backward finds each window's winner again from x and y); the
// bytes count each tensor read or written once.
const Shape kPooledImages = {64, 26, 26, 32};

void BM_MaxPoolForward(benchmark::State& state) {
  auto setup = single_node("max_pool2d", {f32(kPooledImages)});
  run(state, *setup, 0);
  state.SetBytesProcessed(int64_t(state.iterations()) * f32(kPooledImages).numel() * 5 / 4 * 4);
}
BENCHMARK(BM_MaxPoolForward);

void BM_MaxPoolForwardBackward(benchmark::State& state) {
  SingleNode setup;
  const ValueId x = setup.graph.add_parameter("x", f32(kPooledImages), {"glorot_uniform"});
  const ValueId dy = setup.graph.add_parameter("dy", f32({64, 13, 13, 32}), {"glorot_uniform"});
  const ValueId y = setup.graph.add_node1("pool", "max_pool2d", {x});
  setup.graph.set_prediction(
      setup.graph.add_node1("pool_backward", "max_pool2d_backward", {dy, x, y}));
  setup.parameters.initialize_from(setup.graph, 1);
  setup.plan = std::make_unique<Plan>(setup.graph, setup.parameters, setup.runtime);
  run(state, setup, 0);
  // forward: x, y; backward: dy, x, y, dx
  state.SetBytesProcessed(int64_t(state.iterations()) * f32(kPooledImages).numel() * 13 / 4 * 4);
}
BENCHMARK(BM_MaxPoolForwardBackward);

void BM_SoftmaxCrossentropy(benchmark::State& state) {
  auto setup = single_node("softmax_crossentropy",
                           {f32({state.range(0), 10}), TensorType{DType::i32, {state.range(0)}}});
  run(state, *setup, 0);
}
BENCHMARK(BM_SoftmaxCrossentropy)->Arg(32)->Arg(128);

void BM_RmsPropUpdate(benchmark::State& state) {
  const auto size = static_cast<size_t>(state.range(0));
  std::vector<float> weights(size, 0.5f), gradient(size, 0.01f);
  auto optimizer = OptimizerRegistry::global().create(OptimizerSpec{.name = "rmsprop"});
  optimizer->bind({{"w", std::span<float>(weights)}});
  float* gradients[] = {gradient.data()};
  for (auto _ : state) optimizer->step(gradients);
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(size) * 5 *
                          4);  // g, v read+write, w read+write
}
BENCHMARK(BM_RmsPropUpdate)->Arg(784 * 512)->Arg(512);

}  // namespace
}  // namespace loom

BENCHMARK_MAIN();
