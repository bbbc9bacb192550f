// trainer: the command-line tool. It turns the library's errors into one line and an exit
// code: 0 success, 2 bad input (config, data, flags), 1 a failure while running.

#include "engine/train/trainer.hpp"

#include <omp.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <numeric>
#include <sstream>
#include <string_view>

#include "engine/check/gradient_check.hpp"
#include "engine/config/build_graph.hpp"
#include "engine/config/experiment.hpp"
#include "engine/core/error.hpp"
#include "engine/core/input_file.hpp"
#include "engine/core/random.hpp"
#include "engine/data/idx.hpp"
#include "engine/dist/communicator.hpp"
#include "engine/graph/graph_dot.hpp"
#include "engine/graph/op.hpp"
#include "engine/plugin/load_plugin.hpp"
#include "engine/train/bench.hpp"
#include "engine/train/evaluation.hpp"
#include "engine/train/history.hpp"
#include "engine/train/report.hpp"
#include "engine/train/session.hpp"
#include "engine/train/training_data.hpp"
#include "tools/flags.hpp"
#include "tools/run_directory.hpp"
#include "tools/signal_watcher.hpp"

namespace fs = std::filesystem;
using namespace loom;

namespace {

constexpr int kBadInput = 2;
constexpr int kRuntimeFailure = 1;

// ---- running under mpirun -----------------------------------------------------------------
//
// Every rank runs this same program. Setting up (the config, the data, a checkpoint) can fail
// on one rank only (a data file missing on one machine), so the ranks agree on the outcome
// before training starts: the lowest failing rank prints its error and every rank exits with
// its code. Once training runs, the ranks meet at every step, so a rank that fails ends the
// whole run (MPI_Abort) after printing its error; checkpoints are written atomically, so the
// last good one survives.

// Another rank's setup failed and printed why; this rank exits with its code, silently.
struct PeerFailed {
  int exit_code;
};

bool g_ranks_in_step = false;  // a failure now must end every rank at once

int exit_code_of(const std::exception& error) {
  return dynamic_cast<const InputError*>(&error) ? kBadInput : kRuntimeFailure;
}

// "error: ..." for bad input, "failure: ..." otherwise; under mpirun a rank other than 0 says
// which it is.
void print_error(const Communicator& world, int exit_code, const std::string& what) {
  const std::string rank =
      world.size() > 1 && !world.is_root()
          ? "rank " + std::to_string(world.rank()) + " of " + std::to_string(world.size()) + ": "
          : "";
  std::fprintf(stderr, "%s: %s%s\n", exit_code == kBadInput ? "error" : "failure", rank.c_str(),
               what.c_str());
}

void agree_on_setup(Communicator& world, const std::function<void()>& setup) {
  std::string message;
  int code = 0;
  try {
    setup();
  } catch (const std::exception& error) {
    code = exit_code_of(error);
    if (world.size() == 1) throw;
    message = error.what();
  }
  const int first = world.minimum(code != 0 ? world.rank() : world.size());
  if (first == world.size()) return;
  const int agreed_code = -world.minimum(world.rank() == first ? -code : 0);
  if (world.rank() == first) print_error(world, agreed_code, message);
  throw PeerFailed{agreed_code};
}

// Training commands that have no distributed meaning refuse to run under mpirun.
void expect_single_process(Communicator& world, const char* command) {
  if (world.size() > 1) {
    throw InputError(std::string(command) +
                     " runs in one process; under mpirun only train and bench run distributed");
  }
}

struct CommandOptions {
  std::string config;
  std::vector<std::string> plugins;
  std::vector<std::string> overrides;
  std::string seed;  // checked by parse_seed: CLI11 would wrap -1
  int threads = 0;
};

void add_common_options(CLI::App& command, CommandOptions& options, bool config_required = true) {
  command.add_option("config", options.config, "the experiment file (YAML)")
      ->required(config_required);
  command.add_option("--plugin", options.plugins,
                     "load ops and optimizers from this shared library first (repeatable)");
  command.add_option("--set", options.overrides,
                     "override a config value, e.g. --set trainer.epochs=3 (repeatable)");
  command.add_option("--seed", options.seed, "the random seed (overrides the config's seed)");
  command.add_option("--threads", options.threads,
                     "worker threads (default: $LOOM_THREADS, else every core)");
}

Experiment load(const CommandOptions& options, DataUse use = DataUse::training) {
  for (const std::string& plugin : options.plugins) load_plugin(plugin);
  std::vector<std::string> overrides = options.overrides;
  if (!options.seed.empty())
    overrides.push_back("seed=" + std::to_string(parse_seed(options.seed)));
  return load_experiment(options.config, overrides, use);
}

void apply_threads(int threads) {
  if (const std::optional<int> count = resolve_thread_count(threads)) omp_set_num_threads(*count);
}

void write_resolved_config(const fs::path& file, const Experiment& experiment) {
  YAML::Emitter emitter;
  emitter << experiment.resolved;
  write_file_atomically(file, std::string(emitter.c_str()) + "\n");
}

struct TrainCommand {
  std::string out;
  bool overwrite = false;    // a non-empty --out: replace its run files
  std::string resume;        // a run directory to continue
  std::string init_weights;  // a checkpoint to start a new run from
};

std::string confusion_text(const Evaluation& evaluation, int64_t classes) {
  std::string text = "confusion matrix (rows: true class, columns: predicted class)\n      ";
  char cell[32];
  for (int64_t c = 0; c < classes; ++c) {
    std::snprintf(cell, sizeof cell, "%6lld", static_cast<long long>(c));
    text += cell;
  }
  text += "\n";
  for (int64_t t = 0; t < classes; ++t) {
    std::snprintf(cell, sizeof cell, "%6lld", static_cast<long long>(t));
    text += cell;
    for (int64_t p = 0; p < classes; ++p) {
      std::snprintf(cell, sizeof cell, "%6lld",
                    static_cast<long long>(evaluation.confusion[size_t(t * classes + p)]));
      text += cell;
    }
    text += "\n";
  }
  return text;
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
  YAML::Emitter emitter;
  emitter << e.resolved;
  content.resolved_config = emitter.c_str();
  write_file_atomically(run_directory / "report.html", render_report(content));
}

// Creates and locks the run directory for the whole run (a generated name may gain a suffix
// here); a new run checks again, under the lock, that the directory holds no other run.
RunDirectoryLock lock_run_directory(fs::path& run_directory, const TrainCommand& command) {
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
  g_ranks_in_step = true;
  const FitOutcome outcome = trainer.fit(*silent);
  report_evaluation(trainer);
  g_ranks_in_step = false;
  return outcome == FitOutcome::interrupted ? 130 : 0;
}

int train(CommandOptions options, const TrainCommand& command, Communicator& world) {
  if (!command.resume.empty() && !command.init_weights.empty()) {
    throw InputError(
        "--resume RUN_DIR continues a run exactly (weights, optimizer state, "
        "position); --init-weights FILE starts a new run from weights with a fresh "
        "optimizer: give one of them");
  }
  fs::path run_directory;
  if (!command.resume.empty()) {
    run_directory = command.resume;
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
  } else if (options.config.empty()) {
    throw InputError("train: give a CONFIG (or --resume RUN_DIR)");
  }
  apply_threads(options.threads);
  // Rank 0 alone writes the run directory; the other ranks read a resumed run's checkpoint
  // from the same path (a shared file system, or a copy on every machine).
  const auto started = std::chrono::steady_clock::now();
  std::optional<Trainer> trained;
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
    if (!command.init_weights.empty()) trained->initialize_weights(command.init_weights);
  });
  Trainer& trainer = *trained;
  const Experiment& e = trainer.experiment();
  if (!world.is_root()) return fit_as_peer(trainer);

  // Nothing is written until the config, the data and any checkpoint have been accepted.
  // From here on SIGINT and SIGTERM end the run at the next step boundary, with a checkpoint.
  enter_running_phase();
  const RunDirectoryLock lock = lock_run_directory(run_directory, command);
  trainer.set_run_directory(run_directory);
  auto logger = spdlog::default_logger();
  logger->sinks().push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(
      (run_directory / "train.log").string(), false));
  if (command.resume.empty()) write_resolved_config(run_directory / "config.yaml", e);

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
  if (!command.init_weights.empty()) spdlog::info("weights from {}", command.init_weights);
  spdlog::info("run directory: {}", run_directory.string());
  spdlog::info("setup took {:.2f} s",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());

  const auto progress = make_progress_reporter(stdout);
  g_ranks_in_step = world.size() > 1;
  const FitOutcome outcome = trainer.fit(*progress);
  const Evaluation final_evaluation = report_evaluation(trainer);  // every rank takes part
  g_ranks_in_step = false;
  if (outcome == FitOutcome::interrupted) {
    spdlog::warn(
        "interrupted: the position is saved in {}; continue with: trainer train --resume {}",
        (run_directory / "last.safetensors").string(), run_directory.string());
    return 130;
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
  return 0;
}

struct EvaluateCommand {
  std::string weights;
  std::string data = "test";
};

int evaluate(const CommandOptions& options, const EvaluateCommand& command, Communicator& world) {
  expect_single_process(world, "evaluate");
  apply_threads(options.threads);
  Session session(load(options, DataUse::inference));
  session.load_weights(command.weights);
  const std::optional<Dataset> chosen =
      load_data_set(session.experiment(), session.classes(), command.data);
  if (!chosen) {
    throw InputError("evaluate --data " + command.data + ": the config has no " + command.data +
                     " data");
  }
  MetricSet metrics(session.experiment().trainer.metrics);
  const Evaluation evaluation = loom::evaluate(session, metrics, *chosen);
  std::printf("%s: %lld samples - loss: %.4f", command.data.c_str(),
              static_cast<long long>(evaluation.samples), evaluation.loss);
  for (size_t i = 0; i < evaluation.metrics.size(); ++i) {
    std::printf(" - %s: %.4f", metrics.names()[i].c_str(), evaluation.metrics[i]);
  }
  std::printf("\n%s", confusion_text(evaluation, session.classes()).c_str());
  return 0;
}

struct PredictCommand {
  std::string weights;
  std::string input;
  std::string output;
};

// CSV input: one sample per line, its raw values (pixels 0..255, as the idx files hold them)
// separated by commas; an optional first line of column names is skipped.
Dataset read_csv_samples(const fs::path& file, const Shape& sample_shape) {
  constexpr int64_t kMaxCsvBytes = int64_t{2} << 30;
  std::istringstream in(InputFile(file, "--input").read_all(kMaxCsvBytes));
  std::vector<uint8_t> images;
  int64_t rows = 0, line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.empty()) continue;
    if (line_number == 1 && std::isalpha(static_cast<unsigned char>(line[0]))) continue;
    std::stringstream cells(line);
    int64_t column = 0;
    for (std::string cell; std::getline(cells, cell, ',');) {
      ++column;
      char* end = nullptr;
      const double value = std::strtod(cell.c_str(), &end);
      if (cell.empty() || *end != '\0' || value < 0 || value > 255 || value != std::floor(value)) {
        throw InputError(file.string() + ":" + std::to_string(line_number) + ":" +
                         std::to_string(column) + ": expected a pixel value 0..255, got '" + cell +
                         "'");
      }
      images.push_back(uint8_t(value));
    }
    if (column != numel(sample_shape)) {
      throw InputError(file.string() + ":" + std::to_string(line_number) + ": expected " +
                       std::to_string(numel(sample_shape)) + " values, got " +
                       std::to_string(column));
    }
    ++rows;
  }
  if (rows == 0) throw InputError(file.string() + ": no samples");
  return Dataset(std::move(images), std::vector<uint8_t>(size_t(rows), 0), sample_shape);
}

int predict(const CommandOptions& options, const PredictCommand& command, Communicator& world) {
  expect_single_process(world, "predict");
  apply_threads(options.threads);
  Session session(load(options, DataUse::inference));
  session.load_weights(command.weights);
  const Shape& sample = session.experiment().model.input.shape;
  const fs::path input = command.input;
  const bool csv = input.extension() == ".csv";
  Dataset data = [&] {
    if (csv) return read_csv_samples(input, sample);
    IdxArray images = read_idx(input);
    const Shape shape(images.dims.begin() + 1, images.dims.end());
    if (images.dims.size() < 2 || numel(shape) != numel(sample)) {
      throw InputError(input.string() + ": expected images of " + std::to_string(numel(sample)) +
                       " values each");
    }
    const int64_t count = images.dims[0];
    return Dataset(std::move(images.data), std::vector<uint8_t>(size_t(count), 0), shape);
  }();
  const int64_t classes = session.classes();
  std::string text = "index";
  for (int64_t c = 0; c < classes; ++c) text += ",p" + std::to_string(c);
  text += ",predicted\n";
  char cell[32];
  session.infer(data, {0, data.size()}, [&](const InferenceBatch& batch) {
    for (int64_t r = 0; r < std::ssize(batch.indices); ++r) {
      const float* row = batch.predictions + r * classes;
      text += std::to_string(batch.first + r);
      for (int64_t c = 0; c < classes; ++c) {
        std::snprintf(cell, sizeof cell, ",%.6g", row[c]);
        text += cell;
      }
      text += "," + std::to_string(std::max_element(row, row + classes) - row) + "\n";
    }
  });
  if (command.output.empty()) {
    std::fputs(text.c_str(), stdout);
  } else {
    write_file_atomically(command.output, text);
  }
  return 0;
}

nlohmann::json to_json(const BenchReport& r) {
  nlohmann::json nodes = nlohmann::json::array();
  for (const NodeTiming& node : r.nodes) {
    nodes.push_back({{"name", node.name},
                     {"op", node.op},
                     {"backward", node.backward},
                     {"milliseconds", node.milliseconds},
                     {"flops", node.flops}});
  }
  return {{"batch", r.batch},
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
          {"step_flops", r.step_flops},
          {"achieved_gflops", r.achieved_gflops},
          {"peak_gflops", r.peak_gflops},
          {"arena_bytes", r.arena_bytes},
          {"unplanned_bytes", r.unplanned_bytes},
          {"plan_bytes", r.plan_bytes},
          {"parameter_bytes", r.parameter_bytes},
          {"optimizer_state_bytes", r.optimizer_state_bytes},
          {"peak_rss_bytes", r.peak_rss_bytes},
          {"layouts", r.negotiated_layouts ? "negotiated" : "plain"},
          {"training_reorders", r.training_reorders},
          {"inference_reorders", r.inference_reorders},
          {"nodes", nodes}};
}

struct BenchCommand {
  int64_t steps = 300;
  std::optional<int64_t> batch;
  std::string json;
};

int bench(CommandOptions options, const BenchCommand& command, Communicator& world) {
  apply_threads(options.threads);
  if (command.batch)
    options.overrides.push_back("trainer.batch_size=" + std::to_string(*command.batch));
  std::optional<Trainer> trainer;
  agree_on_setup(world, [&] { trainer.emplace(load(options), std::nullopt, world); });
  g_ranks_in_step = world.size() > 1;
  const BenchReport report =
      run_bench(*trainer, {.steps = command.steps, .warmup = command.steps / 10 + 1});
  g_ranks_in_step = false;
  if (!world.is_root()) return 0;
  std::fputs(format_bench_report(report).c_str(), stdout);
  if (!command.json.empty()) write_file_atomically(command.json, to_json(report).dump(2) + "\n");
  return 0;
}

struct GraphCommand {
  bool backward = false;
  std::string format = "text";
  std::string output;
};

int graph(const CommandOptions& options, const GraphCommand& command) {
  const Experiment experiment = load(options);
  const int64_t batch = experiment.trainer.batch_size;
  const Graph g = command.backward ? build_training_graph(experiment, batch)
                                   : build_evaluation_graph(experiment, batch);
  const std::string title = experiment.name + (command.backward ? " (forward and backward)" : "");
  std::string text;
  if (command.format == "text") text = g.describe();
  if (command.format == "dot") text = to_dot(g, title);
  if (command.format == "svg") text = render_svg(to_dot(g, title));
  if (command.output.empty()) {
    std::fputs(text.c_str(), stdout);
  } else {
    write_file_atomically(command.output, text);
  }
  return 0;
}

// Central differences run the op twice per element: beyond this an op check would run for
// hours, not seconds.
constexpr int64_t kMaxCheckedElements = int64_t{1} << 16;

struct GradcheckCommand {
  std::string op;
  std::vector<std::string> shapes;
  std::vector<std::string> attributes;
  std::vector<size_t> fixed;  // inputs without a gradient (targets)
  double low = -1.0, high = 1.0;
  std::string batch = "4";  // checked by parse_count: CLI11 saturates 1e20 silently
  std::string elements;     // per tensor; default every element (op), 16 (config)
  std::optional<double> step;
  GradientTolerance tolerance;  // its step is set from `step`
};

void print_check_header(const GradientTolerance& tolerance) {
  std::printf(
      "numeric gradients: central differences of the double-precision reference forward at "
      "h/100, corners looked for within h = %g·max(1, |x|)\n"
      "a gradient passes when |numeric - analytic| <= %g·scale + %g·|numeric| (scale: the "
      "tensor's largest |numeric|)\n",
      tolerance.step, tolerance.absolute, tolerance.relative);
  std::printf("%-34s %-16s %8s %6s %11s %11s  %s\n", "gradient of", "shape", "checked", "kinks",
              "worst abs", "worst rel", "result");
}

bool print_check_row(const std::string& name, const Shape& shape, int64_t checked, int64_t kinks,
                     double absolute, double relative, int64_t failures) {
  // Every element at a corner (a zero bias feeding a relu over zero pixels) is no verdict,
  // not a pass.
  const std::string result = failures > 0   ? std::to_string(failures) + " outside"
                             : checked == 0 ? "no verdict: every element at a corner"
                                            : "ok";
  std::printf("%-34s %-16s %8lld %6lld %11.3g %11.3g  %s\n", name.c_str(), to_string(shape).c_str(),
              static_cast<long long>(checked), static_cast<long long>(kinks), absolute, relative,
              result.c_str());
  return failures == 0;
}

int gradcheck_op(const CommandOptions& options, const GradcheckCommand& command, int64_t elements) {
  for (const std::string& plugin : options.plugins) load_plugin(plugin);
  const Op& op = OpRegistry::global().get(command.op);
  if (command.shapes.empty())
    throw InputError("--op " + command.op + ": give each input's --shape");
  const OpSignature signature = op.signature();
  const size_t named = signature.inputs.size();
  const size_t required = named - signature.optional_inputs;
  if (command.shapes.size() < required || (!signature.variadic && command.shapes.size() > named)) {
    const std::string count = signature.variadic ? std::to_string(required) + " or more"
                              : required == named
                                  ? std::to_string(named)
                                  : std::to_string(required) + " to " + std::to_string(named);
    throw InputError("--op " + command.op + ": " + std::to_string(command.shapes.size()) +
                     " --shape given; the op takes " + count + " inputs (" +
                     join_names(signature.inputs) + (signature.variadic ? ", ..." : "") + ")");
  }
  for (const size_t fixed : command.fixed) {
    if (fixed >= command.shapes.size()) {
      throw InputError("--fixed " + std::to_string(fixed) + ": op '" + command.op +
                       "' has inputs 0 to " + std::to_string(command.shapes.size() - 1) + " here");
    }
  }
  expect_finite_in("--low", command.low, -1e6, 1e6);
  expect_finite_in("--high", command.high, -1e6, 1e6);
  if (!(command.low < command.high)) {
    throw InputError("--low " + fmt::format("{}", command.low) + " --high " +
                     fmt::format("{}", command.high) + ": expected low < high");
  }
  const uint64_t seed = options.seed.empty() ? 0 : parse_seed(options.seed);
  OpUnderTest test{.op = command.op, .seed = seed};
  for (size_t i = 0; i < command.shapes.size(); ++i) {
    const Shape shape = parse_shape(command.shapes[i], kMaxCheckedElements);
    const bool differentiable = std::ranges::find(command.fixed, i) == command.fixed.end();
    test.inputs.push_back(f32_input(shape,
                                    random_values(numel(shape), derive_seed(seed, 100 + i),
                                                  float(command.low), float(command.high)),
                                    differentiable));
  }
  for (const std::string& assignment : command.attributes) {
    const size_t equals = assignment.find('=');
    const std::string key = assignment.substr(0, equals);
    const auto specs = op.signature().attributes;
    const auto spec = std::ranges::find(specs, key, &AttributeSpec::name);
    if (equals == std::string::npos || spec == specs.end()) {
      std::vector<std::string> known;
      for (const AttributeSpec& s : specs) known.push_back(s.name);
      throw InputError("--attr " + assignment + ": expected name=value with a name of op '" +
                       command.op + "' (known: " + (known.empty() ? "none" : join_names(known)) +
                       ")");
    }
    const ConfigNode value =
        ConfigNode::parse(assignment.substr(equals + 1), "--attr " + assignment);
    test.attributes.set(key, read_attribute(value, spec->kind));
  }
  print_check_header(command.tolerance);
  const std::vector<GradientReport> reports = check_gradients(test, command.tolerance, elements);
  bool passed = true;
  for (const GradientReport& report : reports) {
    const OpInput& input = test.inputs[report.input];
    const std::string name = command.op + " input " + std::to_string(report.input);
    passed &= print_check_row(name, input.type.shape, report.checked, report.kinks,
                              report.worst_absolute, report.worst_relative, report.failures);
  }
  if (!passed) throw RuntimeError("gradient check failed for op '" + command.op + "'");
  if (std::ranges::none_of(reports, [](const GradientReport& r) { return r.checked > 0; })) {
    throw RuntimeError("gradient check of op '" + command.op +
                       "' compared no element (every input fixed, or every element at a kink)");
  }
  std::printf("op '%s': every input's gradient passes\n", command.op.c_str());
  return 0;
}

// A double-precision forward per difference: a batch beyond this would take hours.
constexpr int64_t kMaxCheckedBatch = 1024;

int gradcheck(const CommandOptions& options, GradcheckCommand command) {
  const int64_t batch = parse_count("--batch", command.batch, kMaxCheckedBatch);
  const int64_t elements = command.elements.empty()
                               ? 0
                               : parse_count("--elements", command.elements, kMaxCheckedElements);
  command.tolerance.step =
      expect_finite_in("--step", command.step.value_or(command.tolerance.step), 1e-8, 0.1);
  if (!command.op.empty()) {
    if (!options.config.empty()) throw InputError("gradcheck: give a CONFIG or --op, not both");
    return gradcheck_op(options, command, elements);
  }
  if (options.config.empty()) throw InputError("gradcheck: give a CONFIG or --op NAME");
  apply_threads(options.threads);
  const Experiment experiment = load(options);
  print_check_header(command.tolerance);
  const std::vector<ParameterCheck> checks = check_experiment_gradients(
      experiment, batch, elements > 0 ? elements : 16, command.tolerance);
  int64_t failing = 0;
  for (const ParameterCheck& check : checks) {
    failing += !print_check_row(check.parameter, check.shape, check.checked, check.kinks,
                                check.worst_absolute, check.worst_relative, check.failures);
  }
  if (failing > 0) {
    throw RuntimeError("gradient check failed: " + std::to_string(failing) + " of " +
                       std::to_string(checks.size()) + " parameters outside the tolerance");
  }
  std::printf("all %zu parameters pass (batch of %lld training samples)\n", checks.size(),
              static_cast<long long>(batch));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread exists (MPI's, OpenMP's): see signal_watcher.hpp.
  block_stop_signals(Trainer::stop_requested());
  std::unique_ptr<Communicator> world_holder;
  try {
    world_holder = make_communicator(argc, argv);  // MPI under mpirun
  } catch (const std::exception& error) {
    // Every rank fails alike; the launcher's rank 0 says why.
    const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
    if (rank == nullptr || std::string_view(rank) == "0") {
      std::fprintf(stderr, "error: %s\n", error.what());
    }
    return kBadInput;
  }
  CLI::App app{"trainer: train neural networks described in YAML experiment files, on oneDNN"};
  app.set_version_flag("--version", std::string(LOOM_VERSION));
  app.require_subcommand(1);

  CommandOptions train_options;
  TrainCommand train_settings;
  CLI::App* train_command = app.add_subcommand("train", "train the model of an experiment file");
  add_common_options(*train_command, train_options, /*config_required=*/false);
  train_command->add_option("--out", train_settings.out,
                            "the run directory (default: runs/<name>-<time>)");
  train_command->add_flag("--overwrite", train_settings.overwrite,
                          "let a new run replace the run files in a non-empty --out directory");
  train_command->add_option("--resume", train_settings.resume,
                            "continue the run in this directory exactly where it stopped");
  train_command->add_option("--init-weights", train_settings.init_weights,
                            "start a new run from this checkpoint's weights (fresh optimizer)");

  CommandOptions evaluate_options;
  EvaluateCommand evaluate_settings;
  CLI::App* evaluate_command =
      app.add_subcommand("evaluate", "loss, metrics and confusion matrix of trained weights");
  add_common_options(*evaluate_command, evaluate_options);
  evaluate_command->add_option("--weights", evaluate_settings.weights, "a checkpoint")->required();
  evaluate_command
      ->add_option("--data", evaluate_settings.data, "test (default), validation or train")
      ->check(CLI::IsMember({"test", "validation", "train"}));

  CommandOptions predict_options;
  PredictCommand predict_settings;
  CLI::App* predict_command =
      app.add_subcommand("predict", "class probabilities and the top class for each input, as CSV");
  add_common_options(*predict_command, predict_options);
  predict_command->add_option("--weights", predict_settings.weights, "a checkpoint")->required();
  predict_command
      ->add_option("--input", predict_settings.input,
                   "images: an idx file (plain or .gz) or a .csv of pixel rows")
      ->required();
  predict_command->add_option("--output", predict_settings.output,
                              "the CSV file (default: stdout)");

  CommandOptions graph_options;
  GraphCommand graph_settings;
  CLI::App* graph_command =
      app.add_subcommand("graph", "print or draw the graph of an experiment with its shapes");
  add_common_options(*graph_command, graph_options);
  graph_command->add_flag("--backward", graph_settings.backward,
                          "include the generated backward pass");
  graph_command->add_option("--format", graph_settings.format, "text (default), dot or svg")
      ->check(CLI::IsMember({"text", "dot", "svg"}));
  graph_command->add_option("--output", graph_settings.output, "write to this file, not stdout");

  CommandOptions gradcheck_options;
  GradcheckCommand gradcheck_settings;
  CLI::App* gradcheck_command = app.add_subcommand(
      "gradcheck",
      "check generated gradients against central finite differences, for a CONFIG's "
      "parameters or for one op (--op)");
  add_common_options(*gradcheck_command, gradcheck_options, /*config_required=*/false);
  gradcheck_command->add_option("--op", gradcheck_settings.op, "check this op alone");
  gradcheck_command->add_option("--shape", gradcheck_settings.shapes,
                                "with --op: an input's shape, e.g. 4,5 (once per input)");
  gradcheck_command->add_option("--attr", gradcheck_settings.attributes,
                                "with --op: an attribute, name=value (repeatable)");
  gradcheck_command->add_option("--fixed", gradcheck_settings.fixed,
                                "with --op: an input index that gets no gradient, e.g. a loss's "
                                "targets (repeatable)");
  gradcheck_command->add_option("--low", gradcheck_settings.low, "with --op: inputs' lowest value");
  gradcheck_command->add_option("--high", gradcheck_settings.high,
                                "with --op: inputs' highest value");
  gradcheck_command->add_option(
      "--batch", gradcheck_settings.batch,
      "with CONFIG: training samples in the checked batch (4, at most 1024)");
  gradcheck_command->add_option(
      "--elements", gradcheck_settings.elements,
      "elements checked per tensor, drawn with the seed (default: 16 per parameter "
      "of a CONFIG, every element of an --op input; at most 65536)");
  gradcheck_command->add_option(
      "--step", gradcheck_settings.step,
      "h: corners are looked for within h·max(1, |x|), differences taken at h/100 (1e-4)");

  CommandOptions bench_options;
  BenchCommand bench_command;
  CLI::App* bench_subcommand = app.add_subcommand(
      "bench", "time training and inference steps: per-node table, GFLOP/s, memory");
  add_common_options(*bench_subcommand, bench_options);
  bench_subcommand->add_option("--steps", bench_command.steps, "timed steps per measurement")
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
  bench_subcommand->add_option("--batch", bench_command.batch, "batch size (default: the config's)")
      ->check(CLI::PositiveNumber);
  bench_subcommand->add_option("--json", bench_command.json, "also write the figures as JSON here");

  std::vector<std::string> commands;
  for (const CLI::App* command : app.get_subcommands({})) commands.push_back(command->get_name());
  if (const auto message = unknown_subcommand_message(argc, argv, commands)) {
    if (world_holder->is_root()) std::fprintf(stderr, "error: %s\n", message->c_str());
    return kBadInput;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (!world_holder->is_root()) return error.get_exit_code() == 0 ? 0 : kBadInput;
    if (error.get_exit_code() == 0) return app.exit(error);  // --help, --version
    std::fprintf(stderr, "error: %s (see trainer --help)\n", error.what());
    return kBadInput;
  }

  // Logs go to stderr; stdout carries the progress and results. Under mpirun, rank 0 logs.
  spdlog::set_default_logger(spdlog::stderr_color_mt("loom"));
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");
  Communicator& world = *world_holder;
  if (!world.is_root()) spdlog::set_level(spdlog::level::warn);
  try {
    if (*train_command) return train(train_options, train_settings, world);
    if (*evaluate_command) return evaluate(evaluate_options, evaluate_settings, world);
    if (*predict_command) return predict(predict_options, predict_settings, world);
    if (*graph_command) return graph(graph_options, graph_settings);
    if (*gradcheck_command) return gradcheck(gradcheck_options, gradcheck_settings);
    if (*bench_subcommand) return bench(bench_options, bench_command, world);
  } catch (const PeerFailed& failed) {
    return failed.exit_code;
  } catch (const std::exception& error) {
    // In a step the other ranks wait for this one at the next collective: end them all. Any
    // other error is the same on every rank, and rank 0 says it.
    if (g_ranks_in_step) {
      print_error(world, exit_code_of(error), error.what());
      world.abort(exit_code_of(error));
    }
    if (world.is_root()) print_error(world, exit_code_of(error), error.what());
    return exit_code_of(error);
  }
  return 0;
}
