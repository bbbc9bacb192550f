// `trainer bench`: times training and inference steps (engine/train/bench.hpp); under mpirun
// every rank steps and rank 0 reports. `trainer bench --inference MODEL` times an exported
// model through the C++ API instead (tools/inference_bench.hpp).

#include "engine/train/bench.hpp"

#include <omp.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>

#include "engine/core/error.hpp"
#include "engine/plugin/load_plugin.hpp"
#include "engine/train/bench_json.hpp"
#include "engine/train/history.hpp"
#include "engine/train/model_file.hpp"
#include "engine/train/trainer.hpp"
#include "tools/command_support.hpp"
#include "tools/commands/command.hpp"
#include "tools/inference_bench.hpp"

namespace loom {

namespace {

struct BenchSettings {
  int64_t steps = 300;
  std::optional<int64_t> batch;
  std::string json;
  bool inference = false;
};

int bench_inference(const CommandOptions& options, const BenchSettings& command,
                    Communicator& world) {
  expect_single_process(world, "bench --inference");
  for (const std::string& plugin : options.plugins) load_plugin(plugin);
  if (!options.overrides.empty() || command.batch || !command.json.empty()) {
    throw InputError(
        "bench --inference MODEL times batches 1, 32 and 256 of the model as it was "
        "exported: --set, --batch and --json do not apply");
  }
  apply_threads(options.threads);
  std::error_code error;
  if (!std::filesystem::exists(options.config, error) || !is_safetensors_file(options.config)) {
    throw InputError(options.config +
                     ": bench --inference takes a model file (written by trainer export)");
  }
  Model model = [&] {
    try {
      return Model::load(options.config);
    } catch (const ModelError& refused) {  // a damaged or foreign file: the user's input
      throw InputError(refused.what());
    }
  }();
  const std::vector<InferenceTiming> timings = time_inference(model, {1, 32, 256}, command.steps);
  std::fputs(format_inference_timings(model, timings, omp_get_max_threads()).c_str(), stdout);
  return kSucceeded;
}

int bench(CommandOptions options, const BenchSettings& command, Communicator& world) {
  if (command.inference) return bench_inference(options, command, world);
  apply_threads(options.threads);
  if (command.batch)
    options.overrides.push_back("trainer.batch_size=" + std::to_string(*command.batch));
  std::optional<Trainer> trainer;
  agree_on_setup(world, [&] { trainer.emplace(load(options), std::nullopt, world); });
  set_ranks_in_step(world.size() > 1);
  const BenchReport report =
      run_bench(*trainer, {.steps = command.steps, .warmup = command.steps / 10 + 1});
  set_ranks_in_step(false);
  if (!world.is_root()) return kSucceeded;
  std::fputs(format_bench_report(report).c_str(), stdout);
  if (!command.json.empty()) write_file_atomically(command.json, to_json(report));
  return kSucceeded;
}

using BenchFlags = CommandFlags<BenchSettings>;

void add_bench_flags(CLI::App& command, BenchFlags& flags) {
  add_common_options(command, flags.options, true,
                     "the experiment file (YAML), or with --inference a model file");
  command.add_flag("--inference", flags.settings.inference,
                   "time an exported model through the C++ API: p50/p99 latency and throughput "
                   "at batch 1, 32 and 256");
  command.add_option("--steps", flags.settings.steps, "timed steps (calls) per measurement")
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
  command.add_option("--batch", flags.settings.batch, "batch size (default: the config's)")
      ->check(CLI::PositiveNumber);
  command.add_option("--json", flags.settings.json, "also write the figures as JSON here");
}

}  // namespace

Command bench_command() {
  return make_command<BenchSettings>(
      "bench", "time training and inference steps: per-node table, GFLOP/s, memory",
      add_bench_flags, [](const BenchFlags& flags, Communicator& world) {
        return bench(flags.options, flags.settings, world);
      });
}

}  // namespace loom
