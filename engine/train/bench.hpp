#pragma once
// `trainer bench`: what a training step costs, like `caffe time`. Throughput of training and
// inference, where a step's time goes (data, each node, the optimizer), the GFLOP/s the
// matmuls achieve against a measured oneDNN matmul peak, and memory.

#include <cstdint>
#include <string>
#include <vector>

#include "engine/train/trainer.hpp"

namespace loom {

struct BenchOptions {
  int64_t steps = 300;  // per repetition
  int64_t warmup = 30;
  int64_t repetitions = 5;  // the figures are medians: a shared machine's noise comes in bursts
};

struct NodeTiming {
  std::string name;
  std::string op;
  bool backward = false;
  double milliseconds = 0;  // per step
  int64_t flops = 0;        // per step
  // oneDNN's name for the kernel it picked (e.g. "brg:avx512_core", "jit:avx2", "gemm:jit"), or
  // "loop" for the engine's own loops.
  std::string implementation;
};

struct BenchReport {
  int64_t batch = 0;  // the global batch (every rank's share together)
  int threads = 0;    // per rank
  int ranks = 1;
  std::string cpu;      // the CPU's model name (/proc/cpuinfo)
  std::string cpu_isa;  // the instruction set oneDNN generates kernels for on it
  int64_t repetitions = 0;
  double train_samples_per_second = 0;      // median over repetitions
  double train_samples_per_second_min = 0;  // the slowest and fastest repetition
  double train_samples_per_second_max = 0;
  double inference_samples_per_second = 0;  // median
  double step_milliseconds = 0;             // a whole training step, run as training runs it
  double data_milliseconds = 0;             // gathering and scaling the batch
  double graph_milliseconds = 0;            // plan.run(): forward and backward
  double allreduce_milliseconds = 0;        // averaging gradients: what the run did not hide
  double optimizer_milliseconds = 0;        // the finite checks and every parameter's update
  std::vector<NodeTiming> nodes;            // each node timed alone
  int64_t step_flops = 0;                   // matmul work in one step
  double achieved_gflops = 0;               // step_flops over the graph's time
  double peak_gflops = 0;                   // a large oneDNN matmul on this machine
  int64_t arena_bytes = 0;
  int64_t unplanned_bytes = 0;
  int64_t plan_bytes = 0;        // arena + the plan's own input buffers
  int64_t scratchpad_bytes = 0;  // the one scratchpad its oneDNN primitives share
  int64_t parameter_bytes = 0;
  int64_t optimizer_state_bytes = 0;
  int64_t peak_rss_bytes = 0;
  bool negotiated_layouts = true;  // $LOOM_LAYOUTS (engine/exec/layout.hpp)
  int training_reorders = 0;       // reorder nodes a training step runs
  int inference_reorders = 0;
};

BenchReport run_bench(Trainer& trainer, const BenchOptions& options);
std::string format_bench_report(const BenchReport& report);

// The instruction set oneDNN's kernels use on this CPU (e.g. "avx2", "avx512_core"), which
// $ONEDNN_MAX_CPU_ISA may cap.
std::string cpu_isa_name();
// The CPU's model name, as /proc/cpuinfo gives it ("unknown" when it does not).
std::string cpu_model_name();

// GFLOP/s of an n×n×n f32 matmul on oneDNN, best of a few runs.
double measure_matmul_peak_gflops(int64_t n);

}  // namespace loom
