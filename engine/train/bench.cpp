#include "engine/train/bench.hpp"

#include <omp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <numeric>
#include <sstream>

#include "engine/core/aligned_buffer.hpp"
#include "engine/exec/compile_context.hpp"

namespace loom {

namespace {

using Clock = std::chrono::steady_clock;

double milliseconds_between(Clock::time_point start, Clock::time_point end) {
  return std::chrono::duration<double, std::milli>(end - start).count();
}

// Batches in a fixed shuffled order, cycling over the training set as an epoch would.
class BatchCycle {
 public:
  BatchCycle(int64_t samples, int64_t batch, uint64_t seed)
      : batch_(batch), order_(size_t(samples)) {
    std::iota(order_.begin(), order_.end(), 0u);
    Random(seed).shuffle(std::span<uint32_t>(order_));
  }
  std::span<const uint32_t> next() {
    if (position_ + batch_ > std::ssize(order_)) position_ = 0;
    const std::span<const uint32_t> batch(order_.data() + position_, size_t(batch_));
    position_ += batch_;
    return batch;
  }

 private:
  int64_t batch_;
  int64_t position_ = 0;
  std::vector<uint32_t> order_;
};

double median(std::vector<double> values) {
  std::ranges::sort(values);
  return values[values.size() / 2];
}

int64_t peak_rss_bytes() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return int64_t(usage.ru_maxrss) * 1024;
}

}  // namespace

std::string cpu_isa_name() {
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41:
      return "sse41";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx512_mic:
    case dnnl::cpu_isa::avx512_mic_4ops:
      return "avx512_mic";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "baseline";
  }
}

std::string cpu_model_name() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (!line.starts_with("model name")) continue;
    const size_t colon = line.find(':');
    if (colon == std::string::npos) break;
    const size_t start = line.find_first_not_of(" \t", colon + 1);
    return start == std::string::npos ? "unknown" : line.substr(start);
  }
  return "unknown";
}

double measure_matmul_peak_gflops(int64_t n) {
  const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(engine);
  const auto desc = plain_desc(DType::f32, {n, n});
  AlignedBuffer a(size_t(n * n * 4)), b(size_t(n * n * 4)), c(size_t(n * n * 4));
  std::ranges::fill(a.floats(), 0.5f);
  std::ranges::fill(b.floats(), 0.25f);
  const dnnl::matmul::primitive_desc descriptor(dnnl::matmul::desc(desc, desc, desc), engine);
  const dnnl::matmul matmul(descriptor);
  const std::unordered_map<int, dnnl::memory> arguments = {
      {DNNL_ARG_SRC, dnnl::memory(desc, engine, a.data())},
      {DNNL_ARG_WEIGHTS, dnnl::memory(desc, engine, b.data())},
      {DNNL_ARG_DST, dnnl::memory(desc, engine, c.data())}};
  matmul.execute(stream, arguments);  // JIT and first-touch
  double best = 0;
  for (int run = 0; run < 5; ++run) {
    const auto start = Clock::now();
    matmul.execute(stream, arguments);
    stream.wait();
    const double seconds = milliseconds_between(start, Clock::now()) / 1e3;
    best = std::max(best, 2.0 * double(n) * double(n) * double(n) / seconds / 1e9);
  }
  return best;
}

namespace {

// What every timing part needs: the trainer, the options, the batches to feed, and the
// global batch that throughput counts.
struct BenchRun {
  Trainer& trainer;
  const BenchOptions& options;
  BatchCycle& cycle;
  int64_t global_batch;
};

// 1. Whole steps, exactly as training runs them.
void time_whole_steps(const BenchRun& run, BenchReport& report) {
  const BenchOptions& options = run.options;
  for (int64_t i = 0; i < options.warmup; ++i) run.trainer.step(run.cycle.next(), run.global_batch);
  std::vector<double> step_ms;
  for (int64_t repetition = 0; repetition < options.repetitions; ++repetition) {
    const auto start = Clock::now();
    for (int64_t i = 0; i < options.steps; ++i) {
      run.trainer.step(run.cycle.next(), run.global_batch);
    }
    step_ms.push_back(milliseconds_between(start, Clock::now()) / double(options.steps));
  }
  const auto samples_per_second = [&](double ms) { return double(run.global_batch) / (ms / 1e3); };
  report.repetitions = options.repetitions;
  report.step_milliseconds = median(step_ms);
  report.train_samples_per_second = samples_per_second(report.step_milliseconds);
  report.train_samples_per_second_min = samples_per_second(std::ranges::max(step_ms));
  report.train_samples_per_second_max = samples_per_second(std::ranges::min(step_ms));
}

// 2. The phases of a step, each timed over all steps.
void time_phases(const BenchRun& run, BenchReport& report) {
  double data = 0, graph = 0, reduce = 0, update = 0;
  for (int64_t i = 0; i < run.options.steps; ++i) {
    const std::span<const uint32_t> indices = run.cycle.next();
    const auto t0 = Clock::now();
    StepContext step = run.trainer.begin_step(indices, run.global_batch);
    const auto t1 = Clock::now();
    run.trainer.run_step(step);  // (in overlapped mode, sending buckets as it goes)
    const auto t2 = Clock::now();
    run.trainer.finish_step(step);  // the part of the allreduce left exposed
    const auto t3 = Clock::now();
    run.trainer.apply_step(step);
    const auto t4 = Clock::now();
    data += milliseconds_between(t0, t1);
    graph += milliseconds_between(t1, t2);
    reduce += milliseconds_between(t2, t3);
    update += milliseconds_between(t3, t4);
  }
  const auto steps = double(run.options.steps);
  report.data_milliseconds = data / steps;
  report.graph_milliseconds = graph / steps;
  report.allreduce_milliseconds = reduce / steps;
  report.optimizer_milliseconds = update / steps;
}

// 3. Each node alone (the sum exceeds graph_milliseconds by the timer's own cost).
void time_nodes(const BenchRun& run, BenchReport& report) {
  BoundPlan& plan = run.trainer.training_plan();
  Plan& compiled = *plan.plan;
  const Graph& graph = compiled.graph();
  const auto nodes = graph.nodes();
  std::vector<double> node_ms(nodes.size(), 0.0);
  for (int64_t i = 0; i < run.options.steps; ++i) {
    run.trainer.session().load_batch(plan, run.trainer.train_data(), run.cycle.next());
    for (size_t n = 0; n < nodes.size(); ++n) {
      const auto t0 = Clock::now();
      compiled.run_node(n);
      node_ms[n] += milliseconds_between(t0, Clock::now());
    }
    run.trainer.optimizer().step(plan.gradients);
  }
  for (size_t n = 0; n < nodes.size(); ++n) {
    const int64_t flops = nodes[n].op->flops(nodes[n], graph);
    report.nodes.push_back({nodes[n].name, std::string(nodes[n].op->name()), nodes[n].backward,
                            node_ms[n] / double(run.options.steps), flops,
                            compiled.kernel(n).implementation()});
    report.step_flops += flops;
  }
  report.achieved_gflops = double(report.step_flops) / (report.graph_milliseconds / 1e3) / 1e9;
}

// 4. Inference: the forward-only plan at the same batch size.
void time_inference(const BenchRun& run, BenchReport& report) {
  Session& session = run.trainer.session();
  BoundPlan& inference = session.plan(Purpose::inference, run.trainer.batches().local);
  session.load_batch(inference, run.trainer.train_data(), run.cycle.next());
  for (int64_t i = 0; i < run.options.warmup; ++i) inference.plan->run();
  std::vector<double> inference_ms;
  for (int64_t repetition = 0; repetition < run.options.repetitions; ++repetition) {
    const auto start = Clock::now();
    for (int64_t i = 0; i < run.options.steps; ++i) inference.plan->run();
    inference_ms.push_back(milliseconds_between(start, Clock::now()) / double(run.options.steps));
  }
  report.inference_samples_per_second =
      double(run.global_batch) / (median(inference_ms) / 1e3);  // every rank at once
  report.inference_reorders = inference.plan->reorders();
}

// The plans' and the optimizer's memory, and the process's peak.
void count_memory(Trainer& trainer, BenchReport& report) {
  const Plan& compiled = *trainer.training_plan().plan;
  report.negotiated_layouts = trainer.session().runtime().layouts == LayoutPolicy::negotiated;
  report.training_reorders = compiled.reorders();
  report.arena_bytes = compiled.memory_plan().arena_bytes;
  report.unplanned_bytes = compiled.memory_plan().unplanned_bytes;
  report.plan_bytes = compiled.owned_bytes();
  report.scratchpad_bytes = compiled.scratchpad_bytes();
  report.parameter_bytes = trainer.parameters().total_elements() * 4;
  for (const OptimizerState& state : trainer.optimizer().state()) {
    report.optimizer_state_bytes += std::ssize(state.values) * 4;
  }
  report.peak_rss_bytes = peak_rss_bytes();
}

}  // namespace

BenchReport run_bench(Trainer& trainer, const BenchOptions& options) {
  BenchReport report;
  // Under mpirun each rank times its share of the global batch, averaging gradients as
  // training does; throughput counts the global batch.
  const int64_t global_batch = trainer.experiment().trainer.batch_size;
  const int rank = trainer.communicator().rank();
  report.batch = global_batch;
  report.threads = omp_get_max_threads();
  report.ranks = trainer.communicator().size();
  report.cpu = cpu_model_name();
  report.cpu_isa = cpu_isa_name();
  BatchCycle cycle(trainer.train_data().size(), trainer.batches().local,
                   trainer.experiment().seed + uint64_t(rank));
  const BenchRun run{trainer, options, cycle, global_batch};
  time_whole_steps(run, report);
  time_phases(run, report);
  time_nodes(run, report);
  time_inference(run, report);
  // The best of three sizes: small ones stay in cache, large ones amortize the threading.
  for (const int64_t n : {512, 1024, 2048}) {
    report.peak_gflops = std::max(report.peak_gflops, measure_matmul_peak_gflops(n));
  }
  count_memory(trainer, report);
  return report;
}

std::string format_bench_report(const BenchReport& r) {
  std::ostringstream out;
  char line[256];
  if (r.ranks > 1) {
    std::snprintf(line, sizeof line, "batch %lld over %d ranks, %d threads each\n",
                  static_cast<long long>(r.batch), r.ranks, r.threads);
  } else {
    std::snprintf(line, sizeof line, "batch %lld, %d threads\n", static_cast<long long>(r.batch),
                  r.threads);
  }
  out << line << "cpu:       " << r.cpu << ", oneDNN kernels for " << r.cpu_isa << "\n";
  std::snprintf(line, sizeof line,
                "training:  %10.0f samples/s  (median of %lld runs, range %.0f-%.0f; %.3f ms/step: "
                "data %.3f, graph %.3f, allreduce %.3f, optimizer %.3f)\n",
                r.train_samples_per_second, static_cast<long long>(r.repetitions),
                r.train_samples_per_second_min, r.train_samples_per_second_max, r.step_milliseconds,
                r.data_milliseconds, r.graph_milliseconds, r.allreduce_milliseconds,
                r.optimizer_milliseconds);
  out << line;
  // The step's convolution and matmul work over everything the step costs (gathering the batch
  // and the optimizer too): the share of the machine's peak that training actually gets.
  const double step_gflops = double(r.step_flops) / (r.step_milliseconds / 1e3) / 1e9;
  std::snprintf(line, sizeof line, "inference: %10.0f samples/s\n", r.inference_samples_per_second);
  out << line;
  std::snprintf(line, sizeof line,
                "matmuls:   %.1f MFLOP/step, %.1f GFLOP/s over the graph's time (%.0f%% of peak), "
                "%.1f over the whole step (%.0f%%); oneDNN square matmul peak %.1f GFLOP/s\n",
                double(r.step_flops) / 1e6, r.achieved_gflops,
                100.0 * r.achieved_gflops / r.peak_gflops, step_gflops,
                100.0 * step_gflops / r.peak_gflops, r.peak_gflops);
  out << line;
  std::snprintf(line, sizeof line,
                "memory:    arena %.2f MB (%.2f MB without reuse), plan buffers %.2f MB, "
                "oneDNN scratchpad %.2f MB, parameters %.2f MB, optimizer state %.2f MB, "
                "peak RSS %.1f MB\n",
                double(r.arena_bytes) / 1e6, double(r.unplanned_bytes) / 1e6,
                double(r.plan_bytes) / 1e6, double(r.scratchpad_bytes) / 1e6,
                double(r.parameter_bytes) / 1e6, double(r.optimizer_state_bytes) / 1e6,
                double(r.peak_rss_bytes) / 1e6);
  out << line;
  std::snprintf(line, sizeof line,
                "layouts:   %s, %d reorders per training step, %d per inference step\n",
                r.negotiated_layouts ? "negotiated" : "plain ($LOOM_LAYOUTS)", r.training_reorders,
                r.inference_reorders);
  out << line << "\n";
  std::snprintf(line, sizeof line, "%-50s %-30s %4s %9s %6s %9s  %s\n", "node", "op", "pass",
                "ms/step", "share", "GFLOP/s", "implementation");
  out << line;
  double total = r.optimizer_milliseconds + r.data_milliseconds;
  for (const NodeTiming& node : r.nodes) total += node.milliseconds;
  auto row = [&](const std::string& name, const std::string& op, const char* pass, double ms,
                 int64_t flops, const std::string& implementation) {
    std::string short_name = name.size() > 50 ? name.substr(0, 47) + "..." : name;
    char gflops[16] = "";
    if (flops > 0) std::snprintf(gflops, sizeof gflops, "%9.1f", double(flops) / (ms / 1e3) / 1e9);
    std::snprintf(line, sizeof line, "%-50s %-30s %4s %9.4f %5.1f%% %9s  %s\n", short_name.c_str(),
                  op.c_str(), pass, ms, 100.0 * ms / total, gflops, implementation.c_str());
    out << line;
  };
  row("(gather batch)", "data", "", r.data_milliseconds, 0, "loop");
  for (const NodeTiming& node : r.nodes) {
    row(node.name, node.op, node.backward ? "bwd" : "fwd", node.milliseconds, node.flops,
        node.implementation);
  }
  row("(update every parameter)", "optimizer", "", r.optimizer_milliseconds, 0, "loop");
  return out.str();
}

}  // namespace loom
