// Long graphs: a chain of 10,000 nodes listed last-first (the order that made the recursive
// topological sort go as deep as the chain) loads, builds its training graph, plans and runs
// a training step, on a thread with a small stack, so a walk that recurses once per node
// fails here rather than on a user's long model. A long cycle is reported in one short line,
// and the node-count limit is one line naming `model.nodes`.

#include <gtest/gtest.h>
#include <pthread.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <exception>
#include <functional>

#include "engine/config/build_graph.hpp"
#include "engine/config/experiment.hpp"
#include "engine/config/node_order.hpp"
#include "engine/core/error.hpp"
#include "engine/exec/plan.hpp"

namespace loom::testing {
namespace {

// x[784] -> z = matmul(x, w) -> n0 ... n{count-1} -> probs = softmax, listed last-first, as
// tools/chain_config.sh writes it. Node i is ops[i % ops.size()]: `scale` (factor 1), `add`
// (of the previous node and z, so z has many readers and one long life) or a one-input op.
std::string chain_config(size_t count, const std::vector<std::string>& ops) {
  std::string text = R"(data:
  root: /usr/share/datasets/fashion-mnist
  train: {images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz}
model:
  inputs: {x: [784]}
  params:
    w: {shape: [784, 10], init: glorot_uniform}
  nodes:
)";
  text += "    - {name: probs, op: softmax, inputs: [n" + std::to_string(count - 1) + "]}\n";
  for (size_t i = count; i-- > 0;) {
    const std::string& op = ops[i % ops.size()];
    const std::string previous = i == 0 ? "z" : "n" + std::to_string(i - 1);
    text += "    - {name: n" + std::to_string(i) + ", op: " + op;
    if (op == "scale") text += ", factor: 1.0";
    text += ", inputs: [" + previous + (op == "add" ? ", z" : "") + "]}\n";
  }
  text += R"(    - {name: z, op: matmul, inputs: [x, w]}
  outputs: [probs]
trainer: {loss: categorical_crossentropy, optimizer: sgd}
)";
  return text;
}

// Runs `work` on a thread with a 128 KiB stack (a process's main thread has 8 MiB, enough
// for a recursion over 20,000 nodes to pass unnoticed) and rethrows what it threw.
void run_on_small_stack(const std::function<void()>& work) {
  struct Job {
    const std::function<void()>* work;
    std::exception_ptr error;
  } job{&work, nullptr};
  pthread_attr_t attributes;
  ASSERT_EQ(pthread_attr_init(&attributes), 0);
  ASSERT_EQ(pthread_attr_setstacksize(&attributes, 128 * 1024), 0);
  pthread_t thread;
  const auto body = [](void* argument) -> void* {
    auto* running = static_cast<Job*>(argument);
    try {
      (*running->work)();
    } catch (...) {
      running->error = std::current_exception();
    }
    return nullptr;
  };
  ASSERT_EQ(pthread_create(&thread, &attributes, body, &job), 0);
  pthread_join(thread, nullptr);
  pthread_attr_destroy(&attributes);
  if (job.error) std::rethrow_exception(job.error);
}

// Seconds since the previous call, printed with what was done (for the lead's timings).
class Stopwatch {
 public:
  void lap(const char* what) {
    const auto now = std::chrono::steady_clock::now();
    std::printf("  %-32s %.2f s\n", what, std::chrono::duration<double>(now - last_).count());
    last_ = now;
  }

 private:
  std::chrono::steady_clock::time_point last_ = std::chrono::steady_clock::now();
};

// Loads the chain, builds and plans its training graph, runs one step, and checks the loss
// and the weight gradient are finite and the nodes run in chain order.
void train_one_step(size_t count, const std::vector<std::string>& ops) {
  constexpr int64_t kBatch = 4;
  Stopwatch watch;
  const std::string text = chain_config(count, ops);
  watch.lap("config text");
  const Experiment experiment = parse_experiment(text, "chain.yaml", ".");
  watch.lap("load (parse, order, build once)");
  const auto& nodes = experiment.model.nodes;
  ASSERT_EQ(nodes.size(), count + 2);
  EXPECT_EQ(nodes.front().name, "z");
  EXPECT_EQ(nodes[1].name, "n0");
  EXPECT_EQ(nodes[count].name, "n" + std::to_string(count - 1));
  EXPECT_EQ(nodes.back().name, "probs");

  Graph graph = build_training_graph(experiment, kBatch);
  watch.lap("training graph");
  EXPECT_GT(graph.nodes().size(), count);
  ParameterStore parameters;
  parameters.initialize_from(graph, 42);
  Runtime runtime;
  Plan plan(std::move(graph), parameters, runtime);
  watch.lap("plan (layouts, memory, kernels)");

  const Graph& planned = plan.graph();
  float* x = plan.f32(planned.value_named("x"));
  for (int64_t i = 0; i < kBatch * 784; ++i) x[i] = float(i % 7) / 7.0f;
  float* labels = plan.f32(planned.value_named(kLabelsValue));
  for (int64_t i = 0; i < kBatch * 10; ++i) labels[i] = i % 10 == i / 10 ? 1.0f : 0.0f;
  plan.run();
  watch.lap("one step");
  const float loss = *plan.f32(*planned.loss());
  EXPECT_TRUE(std::isfinite(loss)) << loss;
  EXPECT_GT(loss, 0.0f);
  ASSERT_EQ(planned.parameter_gradients().size(), 1u);
  const float* gradient = plan.f32(planned.parameter_gradients()[0].gradient);
  double norm = 0;
  for (int64_t i = 0; i < 784 * 10; ++i) norm += double(gradient[i]) * gradient[i];
  EXPECT_TRUE(std::isfinite(norm));
  EXPECT_GT(norm, 0.0);
}

TEST(LargeGraph, LongScaleChainListedLastFirstTrainsAStep) {
  run_on_small_stack([] { train_one_step(10'000, {"scale"}); });
}

// `add` gives z one reader per other node (autodiff sums 2,000 contributions) and tanh keeps
// its output for the backward pass, so thousands of values are live at once in the planner.
TEST(LargeGraph, LongChainWithFanOutAndKeptActivationsTrainsAStep) {
  run_on_small_stack([] { train_one_step(6'000, {"add", "tanh", "scale"}); });
}

// Gradient rules hold references to values (a shape) across GradientBuilder::emit, which adds
// values: the graph must not move them (global_avg_pool2d's rule read a freed shape).
TEST(LargeGraph, ValueReferencesSurviveTheGraphGrowing) {
  Graph graph;
  const ValueId x = graph.add_input("x", {DType::f32, {2, 3}});
  const Value& value = graph.value(x);
  const Shape& shape = value.type.shape;
  ValueId last = x;
  for (int i = 0; i < 10'000; ++i) last = graph.add_node1("n" + std::to_string(i), "relu", {last});
  EXPECT_EQ(&graph.value(x), &value);
  EXPECT_EQ(&graph.value(x).type.shape, &shape);
  EXPECT_EQ(shape, (Shape{2, 3}));
}

TEST(LargeGraph, LongCycleIsOneShortLine) {
  // n0 reads n{count-1}: every node of the chain is on the cycle.
  constexpr size_t kCount = 10'000;
  std::string text = chain_config(kCount, {"scale"});
  const std::string first = "{name: n0, op: scale, factor: 1.0, inputs: [z]}";
  const size_t at = text.find(first);
  ASSERT_NE(at, std::string::npos);
  text.replace(at, first.size(),
               "{name: n0, op: scale, factor: 1.0, inputs: [n" + std::to_string(kCount - 1) + "]}");
  std::string message;
  run_on_small_stack([&] {
    try {
      parse_experiment(text, "cycle.yaml", ".");
    } catch (const InputError& error) {
      message = error.what();
    }
  });
  EXPECT_NE(message.find("is part of a cycle (a <- b: a reads b): "), std::string::npos) << message;
  EXPECT_NE(message.find("(9985 more)"), std::string::npos) << message;
  EXPECT_LT(message.size(), 400u) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
}

TEST(LargeGraph, NodeCountAboveTheLimitIsOneLineNamingTheList) {
  EXPECT_EQ(kMaxGraphNodes, 1'000'000u);
  ConfigNode root = ConfigNode::parse("model:\n  nodes: [a, b, c]\n", "limit.yaml");
  const ConfigNode nodes = root.at("model").at("nodes");
  EXPECT_NO_THROW(expect_node_count(nodes, 3));
  try {
    expect_node_count(nodes, 2);
    FAIL() << "no error";
  } catch (const InputError& error) {
    EXPECT_STREQ(error.what(),
                 "limit.yaml:2:10: model.nodes: 3 nodes; an explicit graph may have at most 2");
  }
}

}  // namespace
}  // namespace loom::testing
