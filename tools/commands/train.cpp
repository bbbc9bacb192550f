// `trainer train`: a new run (CONFIG, optionally --init-weights), or --resume of a stopped
// one. Rank 0 alone writes the run directory; under mpirun the other ranks train in step and
// stay silent.

#include <omp.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>

#include "engine/core/error.hpp"
#include "engine/core/input_file.hpp"
#include "engine/graph/graph_dot.hpp"
#include "engine/train/history.hpp"
#include "engine/train/report.hpp"
#include "engine/train/session.hpp"
#include "engine/train/trainer.hpp"
#include "tools/command_support.hpp"
#include "tools/commands/command.hpp"
#include "tools/run_directory.hpp"
#include "tools/signal_watcher.hpp"

namespace loom {

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct TrainSettings {
  std::string out;
  bool overwrite = false;    // a non-empty --out: replace its run files
  std::string resume;        // a run directory to continue
  std::string init_weights;  // a checkpoint to start a new run from
  WeightMatching matching;   // how its weights are matched to the model's parameters
};

std::string resolved_config_text(const Experiment& experiment) {
  YAML::Emitter emitter;
  emitter << experiment.resolved;
  return emitter.c_str();
}

// The report's confusion matrix comes from the test set (else the validation set); under
// mpirun every rank evaluates its shard of it.
Evaluation report_evaluation(Trainer& trainer) {
  const std::optional<Dataset>& evaluated =
      trainer.test_data() ? trainer.test_data() : trainer.validation_data();
  return evaluated ? trainer.evaluate(*evaluated) : Evaluation{};
}

void write_report(const fs::path& run_directory, Trainer& trainer, const Evaluation& evaluation) {
  const Experiment& e = trainer.experiment();
  ReportContent content{.title = "loom run: " + e.name,
                        .metric_names = trainer.metric_names(),
                        .history = trainer.history(),
                        .classes = trainer.classes()};
  if (evaluation.samples > 0) {
    content.confusion = evaluation.confusion;
    content.confusion_label = std::string(trainer.test_data() ? "test" : "validation") + " set, " +
                              std::to_string(evaluation.samples) + " samples";
  }
  try {
    content.graph_svg = render_svg(
        to_dot(trainer.session().graph(Purpose::inference, e.trainer.batch_size), e.name));
  } catch (const RuntimeError& error) {
    spdlog::warn("report: no graph picture ({})", error.what());
  }
  content.resolved_config = resolved_config_text(e);
  write_file_atomically(run_directory / "report.html", render_report(content));
}

// Creates and locks the run directory for the whole run (a generated name may gain a suffix
// here); a new run checks again, under the lock, that the directory holds no other run.
RunDirectoryLock lock_run_directory(fs::path& run_directory, const TrainSettings& command) {
  const bool generated = command.resume.empty() && command.out.empty();
  RunDirectoryLock lock = RunDirectoryLock::acquire(run_directory, generated);
  if (command.resume.empty() && !generated) {
    expect_new_run_directory(run_directory, command.overwrite, "--out");
    if (command.overwrite) remove_run_files(run_directory);
  }
  return lock;
}

// A rank other than 0: trains in step with the others, writes nothing, reports nothing.
int fit_as_peer(Trainer& trainer) {
  enter_running_phase();
  const auto silent = make_silent_reporter();
  set_ranks_in_step(true);
  const FitOutcome outcome = trainer.fit(*silent);
  report_evaluation(trainer);
  set_ranks_in_step(false);
  return outcome == FitOutcome::interrupted ? kInterrupted : kSucceeded;
}

// Checks the flags' combination. A resumed run reads its own config.yaml (set as
// options.config) and returns its directory; a new run returns an empty path.
fs::path check_run_flags(CommandOptions& options, const TrainSettings& command) {
  if (!command.resume.empty() && !command.init_weights.empty()) {
    throw InputError(
        "--resume RUN_DIR continues a run exactly (weights, optimizer state, "
        "position); --init-weights FILE starts a new run from weights with a fresh "
        "optimizer: give one of them");
  }
  if (command.resume.empty()) {
    if (options.config.empty()) throw InputError("train: give a CONFIG (or --resume RUN_DIR)");
    return {};
  }
  const fs::path run_directory = command.resume;
  if (!options.config.empty() || !command.out.empty()) {
    throw InputError("--resume " + command.resume +
                     ": the run's own config.yaml and directory "
                     "are used; give no CONFIG and no --out");
  }
  for (const char* file : {"config.yaml", "last.safetensors"}) {
    std::error_code error;
    if (!fs::exists(run_directory / file, error)) {
      throw InputError("--resume " + command.resume + ": " + (run_directory / file).string() +
                       " not found (is this a run directory?)");
    }
    expect_regular_file(run_directory / file, "--resume " + command.resume + ":");
  }
  options.config = (run_directory / "config.yaml").string();
  return run_directory;
}

// Every rank loads the config and the data and compiles the plans; a failure on any rank
// ends them all (agree_on_setup). Rank 0 alone writes the run directory; the other ranks read
// a resumed run's checkpoint from the same path (a shared file system, or a copy on every
// machine). `trained` is filled in place: the plans hold addresses inside the Trainer.
// Returns what --init-weights loaded, for the log.
std::string set_up_trainer(const CommandOptions& options, const TrainSettings& command,
                           fs::path& run_directory, std::optional<Trainer>& trained,
                           Communicator& world) {
  std::string loaded_weights;
  agree_on_setup(world, [&] {
    // A directory that holds another run is refused before any work is done (and again,
    // under the lock, before the first write).
    if (world.is_root() && command.resume.empty() && !command.out.empty()) {
      expect_new_run_directory(command.out, command.overwrite, "--out");
    }
    Experiment experiment = load(options);
    if (command.resume.empty()) {
      run_directory =
          command.out.empty() ? default_run_directory(experiment.name) : fs::path(command.out);
    }
    // Reads the data and compiles the plans.
    trained.emplace(std::move(experiment),
                    world.is_root() ? std::optional(run_directory) : std::nullopt, world);
    if (!command.resume.empty()) trained->resume(run_directory / "last.safetensors");
    if (!command.init_weights.empty()) {
      loaded_weights =
          trained->initialize_weights(command.init_weights, command.matching).summary();
    }
  });
  return loaded_weights;
}

void log_run_start(Trainer& trainer, const TrainSettings& command, const fs::path& run_directory,
                   Communicator& world, Clock::time_point started,
                   const std::string& loaded_weights) {
  const Experiment& e = trainer.experiment();
  const Plan& plan = *trainer.training_plan().plan;
  spdlog::info("experiment '{}' from {} (seed {}, {} threads{})", e.name, e.source.string(), e.seed,
               omp_get_max_threads(),
               world.size() > 1 ? fmt::format(" on each of {} ranks, {} samples per rank per batch",
                                              world.size(), trainer.batches().local)
                                : "");
  spdlog::info(
      "data: {} training samples{}{}", trainer.train_data().size(),
      trainer.validation_data()
          ? fmt::format(", {} validation samples", trainer.validation_data()->size())
          : "",
      trainer.test_data() ? fmt::format(", {} test samples", trainer.test_data()->size()) : "");
  spdlog::info(
      "model: {} parameters; training graph: {} nodes ({} backward); arena {:.2f} MB "
      "(unplanned {:.2f} MB); optimizer {}",
      trainer.parameters().total_elements(), plan.graph().nodes().size(),
      std::ranges::count_if(plan.graph().nodes(), [](const Node& n) { return n.backward; }),
      plan.memory_plan().arena_bytes / 1e6, plan.memory_plan().unplanned_bytes / 1e6,
      trainer.optimizer().name());
  if (!command.resume.empty()) {
    spdlog::info("resumed at optimizer step {} ({} epochs done)", trainer.optimizer().iterations(),
                 trainer.history().size());
  }
  if (!command.init_weights.empty()) {
    spdlog::info("weights from {}: {}", command.init_weights, loaded_weights);
  }
  spdlog::info("run directory: {}", run_directory.string());
  spdlog::info("setup took {:.2f} s",
               std::chrono::duration<double>(Clock::now() - started).count());
}

// After fit: what happened, the report, and the last epoch's figures.
int finish_run(Trainer& trainer, FitOutcome outcome, const Evaluation& final_evaluation,
               const fs::path& run_directory) {
  if (outcome == FitOutcome::interrupted) {
    spdlog::warn(
        "interrupted: the position is saved in {}; continue with: trainer train --resume {}",
        (run_directory / "last.safetensors").string(), run_directory.string());
    return kInterrupted;
  }
  if (trainer.skipped_batches() > 0) {
    spdlog::warn("{} batches skipped for non-finite values; the last: {}",
                 trainer.skipped_batches(), trainer.last_skip_message());
  }
  if (outcome == FitOutcome::stopped_early) {
    spdlog::info("early stopping after epoch {}", trainer.history().back().epoch);
  }
  write_report(run_directory, trainer, final_evaluation);
  std::string summary;
  if (!trainer.history().empty()) {
    for (const auto& [name, value] :
         named_values(trainer.history().back(), trainer.metric_names())) {
      summary += (summary.empty() ? "" : ", ") + name + " " + fmt::format("{:.4f}", value);
    }
  }
  spdlog::info("done: {}; history, checkpoints and report.html in {}", summary,
               run_directory.string());
  return kSucceeded;
}

int train(CommandOptions options, const TrainSettings& command, Communicator& world) {
  fs::path run_directory = check_run_flags(options, command);
  // Data-parallel ranks keep every core: each waits for the others every step, so its step
  // times do not measure its own thread count.
  apply_threads(options.threads, world.size() == 1 ? ThreadUse::adaptive : ThreadUse::every_core);
  const auto started = Clock::now();
  std::optional<Trainer> trained;
  const std::string loaded_weights =
      set_up_trainer(options, command, run_directory, trained, world);
  Trainer& trainer = *trained;
  if (!world.is_root()) return fit_as_peer(trainer);

  // Nothing is written until the config, the data and any checkpoint have been accepted.
  // From here on SIGINT and SIGTERM end the run at the next step boundary, with a checkpoint.
  enter_running_phase();
  const RunDirectoryLock lock = lock_run_directory(run_directory, command);
  trainer.set_run_directory(run_directory);
  auto logger = spdlog::default_logger();
  logger->sinks().push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(
      (run_directory / "train.log").string(), false));
  if (command.resume.empty()) {
    write_file_atomically(run_directory / "config.yaml",
                          resolved_config_text(trainer.experiment()) + "\n");
  }
  log_run_start(trainer, command, run_directory, world, started, loaded_weights);

  const auto progress = make_progress_reporter(stdout);
  set_ranks_in_step(world.size() > 1);
  const FitOutcome outcome = trainer.fit(*progress);
  const Evaluation final_evaluation = report_evaluation(trainer);  // every rank takes part
  set_ranks_in_step(false);
  return finish_run(trainer, outcome, final_evaluation, run_directory);
}

using TrainFlags = CommandFlags<TrainSettings>;

void add_train_flags(CLI::App& command, TrainFlags& flags) {
  add_common_options(command, flags.options, /*config_required=*/false);
  command.add_option("--out", flags.settings.out,
                     "the run directory (default: runs/<name>-<time>)");
  command.add_flag("--overwrite", flags.settings.overwrite,
                   "let a new run replace the run files in a non-empty --out directory");
  command.add_option("--resume", flags.settings.resume,
                     "continue the run in this directory exactly where it stopped");
  CLI::Option* init_weights =
      command.add_option("--init-weights", flags.settings.init_weights,
                         "start a new run from this checkpoint's weights (fresh optimizer); "
                         "every parameter must match by name and shape unless --by-name");
  command
      .add_flag("--by-name", flags.settings.matching.by_name,
                "--init-weights loads the parameters of the same name and lists the others")
      ->needs(init_weights);
  command
      .add_flag("--skip-mismatch", flags.settings.matching.skip_mismatch,
                "with --by-name: skip (and list) a parameter whose shape differs")
      ->needs(init_weights);
}

}  // namespace

Command train_command() {
  return make_command<TrainSettings>("train", "train the model of an experiment file",
                                     add_train_flags,
                                     [](const TrainFlags& flags, Communicator& world) {
                                       return train(flags.options, flags.settings, world);
                                     });
}

}  // namespace loom
