// `trainer kfold CONFIG --folds K`: K-fold validation (engine/train/kfold.hpp). Each fold
// trains a fresh model (seed + fold) in OUT/fold_<i>/ (history, checkpoints); OUT gets the
// mean curve (mean_history.csv), kfold.json (every fold's last-epoch figures, their means and
// standard deviations, and the mean predictor's baseline for regression) and a summary.

#include "engine/train/kfold.hpp"

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/train/history.hpp"
#include "engine/train/trainer.hpp"
#include "tools/command_support.hpp"
#include "tools/commands/command.hpp"
#include "tools/run_directory.hpp"
#include "tools/signal_watcher.hpp"

namespace loom {

namespace {

namespace fs = std::filesystem;

struct KFoldSettings {
  int64_t folds = 4;
  std::string out;  // a new or empty directory
};

struct FoldOutcome {
  std::vector<EpochRecord> history;
  Baseline baseline;
};

// The last epoch's validation figures by name, for each fold, with their mean and spread.
nlohmann::json summary_json(const std::vector<FoldOutcome>& folds,
                            std::span<const std::string> metric_names, bool regression) {
  nlohmann::json report = {{"folds", nlohmann::json::array()}};
  std::map<std::string, std::vector<double>> columns;
  for (const FoldOutcome& fold : folds) {
    nlohmann::json row;
    for (const auto& [name, value] : named_values(fold.history.back(), metric_names)) {
      row[name] = value;
      columns[name].push_back(value);
    }
    row["epochs"] = fold.history.size();
    if (regression) {
      row["baseline_mae"] = fold.baseline.mae;
      row["baseline_mse"] = fold.baseline.mse;
      columns["baseline_mae"].push_back(fold.baseline.mae);
      columns["baseline_mse"].push_back(fold.baseline.mse);
    }
    report["folds"].push_back(row);
  }
  for (const auto& [name, values] : columns) {
    double mean = 0, squares = 0;
    for (double v : values) mean += v / double(values.size());
    for (double v : values) squares += (v - mean) * (v - mean);
    report["mean"][name] = mean;
    report["std"][name] = std::sqrt(squares / double(values.size()));
  }
  return report;
}

fs::path prepare_output(const Experiment& experiment, const KFoldSettings& command,
                        std::optional<RunDirectoryLock>& lock) {
  fs::path out = command.out.empty() ? default_run_directory(experiment.name + "-kfold")
                                     : fs::path(command.out);
  const bool generated = command.out.empty();
  if (!generated) expect_new_run_directory(out, false, "--out");
  lock.emplace(RunDirectoryLock::acquire(out, generated));
  YAML::Emitter emitter;
  emitter << experiment.resolved;
  write_file_atomically(out / "config.yaml", std::string(emitter.c_str()) + "\n");
  return out;
}

int kfold(const CommandOptions& options, const KFoldSettings& command, Communicator& world) {
  expect_single_process(world, "kfold");
  apply_threads(options.threads, ThreadUse::adaptive);
  const Experiment experiment = load(options, DataUse::training);
  if (experiment.data.validation || experiment.data.validation_split > 0) {
    throw InputError(experiment.source.string() +
                     ": data: kfold validates on each fold in turn; remove data.validation and "
                     "data.validation_split");
  }
  const Graph& graph = *experiment.checked_training_graph;
  const TrainingData all =
      load_training_data(experiment, graph.value(*graph.prediction()).type.shape[1]);
  for (int64_t fold = 0; fold < command.folds; ++fold) kfold_split(*all.train, command.folds, fold);

  enter_running_phase();
  std::optional<RunDirectoryLock> lock;
  const fs::path out = prepare_output(experiment, command, lock);
  const auto progress = make_progress_reporter(stdout);
  std::vector<FoldOutcome> folds;
  std::vector<std::string> metric_names;
  for (int64_t fold = 0; fold < command.folds; ++fold) {
    auto [train, validation] = kfold_split(*all.train, command.folds, fold);
    spdlog::info("fold {} of {}: {} training samples, {} validation samples", fold + 1,
                 command.folds, train.size(), validation.size());
    Experiment fold_experiment = experiment;
    fold_experiment.seed = experiment.seed + uint64_t(fold);
    const Baseline baseline = mean_predictor_baseline(train, validation);
    const fs::path directory = out / ("fold_" + std::to_string(fold + 1));
    fs::create_directories(directory);
    Trainer trainer(
        std::move(fold_experiment),
        TrainingData{
            .train = std::move(train), .validation = std::move(validation), .test = all.test},
        directory);
    if (trainer.fit(*progress) == FitOutcome::interrupted) {
      spdlog::warn("interrupted in fold {}; the finished folds are in {}", fold + 1, out.string());
      return kInterrupted;
    }
    metric_names.assign(trainer.metric_names().begin(), trainer.metric_names().end());
    folds.push_back({trainer.history(), baseline});
  }
  std::vector<std::vector<EpochRecord>> histories;
  for (const FoldOutcome& fold : folds) histories.push_back(fold.history);
  write_history_csv(out / "mean_history.csv", metric_names, mean_history(histories));
  const bool regression = experiment.trainer.loss.targets == TargetFamily::regression;
  const nlohmann::json report = summary_json(folds, metric_names, regression);
  write_file_atomically(out / "kfold.json", report.dump(2) + "\n");
  std::string line;
  for (const auto& [name, mean] : report["mean"].items()) {
    line += fmt::format("{}{} {:.4f} ± {:.4f}", line.empty() ? "" : ", ", name, mean.get<double>(),
                        report["std"][name].get<double>());
  }
  spdlog::info("{} folds, last epoch, mean ± std: {}", command.folds, line);
  spdlog::info("per-fold histories, mean_history.csv and kfold.json in {}", out.string());
  return kSucceeded;
}

using KFoldFlags = CommandFlags<KFoldSettings>;

void add_kfold_flags(CLI::App& command, KFoldFlags& flags) {
  add_common_options(command, flags.options);
  command.add_option("--folds", flags.settings.folds, "how many parts (K, at least 2)")
      ->required()
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 20));
  command.add_option("--out", flags.settings.out,
                     "a new or empty output directory (default: runs/<name>-kfold-<time>)");
}

}  // namespace

Command kfold_command() {
  return make_command<KFoldSettings>(
      "kfold", "K-fold validation: train K models, each validating on one part of the data",
      add_kfold_flags, [](const KFoldFlags& flags, Communicator& world) {
        return kfold(flags.options, flags.settings, world);
      });
}

}  // namespace loom
