// Adaptive threads (engine/exec/threads.hpp, engine/train/thread_tuner.hpp): a plan's kernel
// sets, one per thread count, compute the same training step; the tuner settles on the count
// whose steps are fastest and measures again when the machine's load changes. The tuner is
// driven here by simulated step times, so its decisions are checked exactly. Also the
// threaded finiteness check (engine/core/parallel.hpp) that guards each optimizer step.

#include <gtest/gtest.h>
#include <omp.h>

#include <functional>
#include <limits>
#include <vector>

#include "engine/check/gradient_check.hpp"
#include "engine/config/build_graph.hpp"
#include "engine/config/experiment.hpp"
#include "engine/core/parallel.hpp"
#include "engine/exec/plan.hpp"
#include "engine/train/thread_tuner.hpp"
#include "tests/support/run_command.hpp"
#include "tests/support/step_result.hpp"

namespace loom::testing {
namespace {

// Adaptive threads over `top` threads while alive (the unit tests run on one thread).
class AdaptiveThreads {
 public:
  explicit AdaptiveThreads(int top = 2) : previous_(omp_get_max_threads()) {
    omp_set_num_threads(top);
    set_adaptive_threads(true);
  }
  ~AdaptiveThreads() {
    set_adaptive_threads(false);
    omp_set_num_threads(previous_);
  }
  AdaptiveThreads(const AdaptiveThreads&) = delete;
  AdaptiveThreads& operator=(const AdaptiveThreads&) = delete;

 private:
  int previous_;
};

TEST(AdaptiveThreads, CountsHalveDownToOne) {
  EXPECT_EQ(thread_counts_for_new_plans(), std::vector<int>{omp_get_max_threads()});
  {
    AdaptiveThreads adaptive(6);
    EXPECT_EQ(thread_counts_for_new_plans(), (std::vector<int>{6, 3, 1}));
    omp_set_num_threads(1);  // a tuner's choice does not shrink later plans' counts
    EXPECT_EQ(thread_counts_for_new_plans(), (std::vector<int>{6, 3, 1}));
  }
  EXPECT_FALSE(adaptive_threads());
}

// Images in [0, 1) and one class per sample, in whichever encoding the loss reads.
void fill_batch(Plan& plan, const Graph& graph, int64_t classes) {
  for (size_t v = 0; v < graph.values().size(); ++v) {
    const Value& value = graph.values()[v];
    const int64_t count = value.type.numel();
    if (value.role == ValueRole::input) {
      const std::vector<float> x = random_values(count, 7, 0.f, 1.f);
      std::copy(x.begin(), x.end(), plan.f32(ValueId(v)));
    } else if (value.role == ValueRole::label && value.type.dtype == DType::i32) {
      for (int64_t i = 0; i < count; ++i) plan.i32(ValueId(v))[i] = int32_t(i % classes);
    } else if (value.role == ValueRole::label) {
      const int64_t width = value.type.shape.back();
      for (int64_t i = 0; i < count; ++i) {
        plan.f32(ValueId(v))[i] = (i % width) == (i / width) % classes ? 1.f : 0.f;
      }
    }
  }
}

TEST(AdaptiveThreads, EveryThreadCountsKernelsComputeTheSameTrainingStep) {
  const AdaptiveThreads adaptive;
  const Experiment experiment = load_experiment(source_path("configs/fashion_mnist_convnet.yaml"),
                                                {"data.train.limit=100", "data.test.limit=100"});
  const Graph graph = build_training_graph(experiment, 8);
  ParameterStore parameters;
  parameters.initialize_from(graph, 3);
  Runtime runtime;
  ASSERT_EQ(runtime.thread_counts, (std::vector<int>{2, 1}));
  Plan plan(graph, parameters, runtime);
  fill_batch(plan, graph, class_count(experiment));
  plan.run();
  const StepResult two = read_step_result(plan, graph);
  runtime.use_thread_slot(1);
  EXPECT_EQ(omp_get_max_threads(), 1);
  plan.run();
  const StepResult one = read_step_result(plan, graph);
  EXPECT_NEAR(one.loss, two.loss, 1e-6f * std::max(1.f, std::abs(two.loss)));
  ASSERT_EQ(one.gradients.size(), two.gradients.size());
  for (size_t p = 0; p < two.gradients.size(); ++p) {
    for (size_t i = 0; i < two.gradients[p].size(); ++i) {
      const float expected = two.gradients[p][i];
      ASSERT_NEAR(one.gradients[p][i], expected, 1e-5f * std::max(1.f, std::abs(expected)))
          << graph.value(graph.parameter_gradients()[p].parameter).name << "[" << i << "]";
    }
  }
}

// Feeds the tuner `seconds` of training whose steps take step_seconds(thread count) each.
void train_for(ThreadTuner& tuner, const Runtime& runtime, double seconds,
               const std::function<double(int)>& step_seconds) {
  for (double elapsed = 0; elapsed < seconds;) {
    const double step = step_seconds(runtime.thread_counts[runtime.thread_slot]);
    tuner.after_step(step);
    elapsed += step;
  }
}

int threads_now(const Runtime& runtime) {
  return runtime.thread_counts[runtime.thread_slot];
}

TEST(ThreadTuner, SettlesOnTheFastestCount) {
  const AdaptiveThreads adaptive;
  Runtime runtime;
  ThreadTuner tuner(runtime, true);
  ASSERT_TRUE(tuner.adapting());
  // A quiet machine: two threads are faster.
  train_for(tuner, runtime, 1.0, [](int threads) { return threads == 2 ? 0.6e-3 : 1e-3; });
  EXPECT_EQ(threads_now(runtime), 2);
  EXPECT_EQ(omp_get_max_threads(), 2);
  EXPECT_NEAR(tuner.measured_step_seconds()[0], 0.6e-3, 1e-12);
  EXPECT_NEAR(tuner.measured_step_seconds()[1], 1e-3, 1e-12);

  // A machine where another process keeps a core busy: one thread is faster.
  Runtime busy;
  ThreadTuner busy_tuner(busy, true);
  train_for(busy_tuner, busy, 1.0, [](int threads) { return threads == 2 ? 4e-3 : 1e-3; });
  EXPECT_EQ(threads_now(busy), 1);
  EXPECT_EQ(omp_get_max_threads(), 1);
}

TEST(ThreadTuner, ANearTieKeepsMoreThreads) {
  const AdaptiveThreads adaptive;
  Runtime runtime;
  ThreadTuner tuner(runtime, true);
  train_for(tuner, runtime, 1.0, [](int threads) { return threads == 2 ? 1e-3 : 0.99e-3; });
  EXPECT_EQ(threads_now(runtime), 2);
}

TEST(ThreadTuner, MeasuresAgainWhenAnotherProcessArrives) {
  const AdaptiveThreads adaptive;
  Runtime runtime;
  ThreadTuner tuner(runtime, true);
  train_for(tuner, runtime, 1.0, [](int threads) { return threads == 2 ? 0.6e-3 : 1e-3; });
  ASSERT_EQ(threads_now(runtime), 2);
  // The load arrives: within one watch window and a measurement, one thread runs.
  train_for(tuner, runtime, 0.5, [](int threads) { return threads == 2 ? 4e-3 : 1.1e-3; });
  EXPECT_EQ(threads_now(runtime), 1);
}

TEST(ThreadTuner, MeasuresAgainEveryFewSecondsToFindFreedCores) {
  const AdaptiveThreads adaptive;
  Runtime runtime;
  ThreadTuner tuner(runtime, true);
  train_for(tuner, runtime, 1.0, [](int threads) { return threads == 2 ? 4e-3 : 1e-3; });
  ASSERT_EQ(threads_now(runtime), 1);
  // The other process ends; one thread's steps do not slow down, so only the periodic
  // measurement finds that two threads are faster again.
  train_for(tuner, runtime, 1.0, [](int threads) { return threads == 2 ? 0.6e-3 : 1e-3; });
  EXPECT_EQ(threads_now(runtime), 1);
  train_for(tuner, runtime, 5.0, [](int threads) { return threads == 2 ? 0.6e-3 : 1e-3; });
  EXPECT_EQ(threads_now(runtime), 2);
}

TEST(ThreadTuner, AFixedCountOrDataParallelRankNeverSwitches) {
  Runtime fixed;  // not adaptive: one count
  ThreadTuner fixed_tuner(fixed, true);
  EXPECT_FALSE(fixed_tuner.adapting());

  const AdaptiveThreads adaptive;
  Runtime rank;
  ThreadTuner rank_tuner(rank, false);
  EXPECT_FALSE(rank_tuner.adapting());
  train_for(rank_tuner, rank, 1.0, [](int threads) { return threads == 2 ? 4e-3 : 1e-3; });
  EXPECT_EQ(threads_now(rank), 2);
}

// The finiteness check that guards every optimizer step splits long arrays over the threads:
// a NaN or an infinity anywhere, in either thread's share or the vector loop's remainder, is
// found; an array of finite values (the largest included) passes.
TEST(AllFinite, FindsANonFiniteValueAtAnyPositionOnEveryThread) {
  const int previous = omp_get_max_threads();
  omp_set_num_threads(2);
  for (const int64_t count : {int64_t(100), kParallelElements + 13}) {
    std::vector<float> values(size_t(count), std::numeric_limits<float>::max());
    EXPECT_TRUE(all_finite(values.data(), count)) << count;
    for (const int64_t position : {int64_t(0), count / 2 - 1, count / 2, count - 1}) {
      for (const float bad :
           {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
            -std::numeric_limits<float>::infinity()}) {
        values[size_t(position)] = bad;
        EXPECT_FALSE(all_finite(values.data(), count)) << count << " at " << position;
        values[size_t(position)] = -std::numeric_limits<float>::max();
      }
    }
  }
  omp_set_num_threads(previous);
}

}  // namespace
}  // namespace loom::testing
