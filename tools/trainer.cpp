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
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/check/gradient_check.hpp"
#include "engine/config/build_graph.hpp"
#include "engine/config/experiment.hpp"
#include "engine/core/error.hpp"
#include "engine/graph/graph_dot.hpp"
#include "engine/graph/op.hpp"
#include "engine/plugin/load_plugin.hpp"
#include "engine/train/bench.hpp"
#include "engine/train/history.hpp"

namespace fs = std::filesystem;
using namespace loom;

namespace {

constexpr int kBadInput = 2;
constexpr int kRuntimeFailure = 1;

struct CommandOptions {
  std::string config;
  std::vector<std::string> plugins;
  std::vector<std::string> overrides;
  std::optional<uint64_t> seed;
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
  command
      .add_option("--threads", options.threads,
                  "worker threads (default: $LOOM_THREADS, else every core)")
      ->check(CLI::NonNegativeNumber);
}

Experiment load(const CommandOptions& options) {
  for (const std::string& plugin : options.plugins) load_plugin(plugin);
  std::vector<std::string> overrides = options.overrides;
  if (options.seed) overrides.push_back("seed=" + std::to_string(*options.seed));
  return load_experiment(options.config, overrides);
}

void apply_threads(int threads) {
  if (threads == 0) {
    if (const char* env = std::getenv("LOOM_THREADS")) threads = std::atoi(env);
  }
  if (threads > 0) omp_set_num_threads(threads);
}

fs::path default_run_directory(const std::string& name) {
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", std::localtime(&now));
  return fs::path("runs") / (name + "-" + stamp);
}

void write_resolved_config(const fs::path& file, const Experiment& experiment) {
  YAML::Emitter emitter;
  emitter << experiment.resolved;
  write_file_atomically(file, std::string(emitter.c_str()) + "\n");
}

int train(const CommandOptions& options, const std::string& out) {
  apply_threads(options.threads);
  Experiment experiment = load(options);
  const fs::path run_directory =
      out.empty() ? default_run_directory(experiment.name) : fs::path(out);

  const auto started = std::chrono::steady_clock::now();
  Trainer trainer(std::move(experiment));  // reads the data and compiles every plan
  const Experiment& e = trainer.experiment();

  // Nothing is written until the config and the data have been accepted.
  fs::create_directories(run_directory);
  auto logger = spdlog::default_logger();
  logger->sinks().push_back(std::make_shared<spdlog::sinks::basic_file_sink_mt>(
      (run_directory / "train.log").string(), true));
  write_resolved_config(run_directory / "config.yaml", e);

  const Plan& plan = *trainer.training_plan().plan;
  spdlog::info("experiment '{}' from {} (seed {}, {} threads)", e.name, e.source.string(), e.seed,
               omp_get_max_threads());
  spdlog::info(
      "data: {} training samples{}", trainer.train_data().size(),
      trainer.test_data() ? fmt::format(", {} test samples", trainer.test_data()->size()) : "");
  spdlog::info(
      "model: {} parameters; training graph: {} nodes ({} backward); arena {:.2f} MB "
      "(unplanned {:.2f} MB); optimizer {}",
      trainer.parameters().total_elements(), plan.graph().nodes().size(),
      std::ranges::count_if(plan.graph().nodes(), [](const Node& n) { return n.backward; }),
      plan.memory_plan().arena_bytes / 1e6, plan.memory_plan().unplanned_bytes / 1e6,
      trainer.optimizer().name());
  spdlog::info("run directory: {}", run_directory.string());
  spdlog::info("setup took {:.2f} s",
               std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());

  std::vector<EpochRecord> history;
  const auto progress = make_progress_reporter(stdout);
  trainer.fit(*progress, [&](const EpochRecord& record) {
    history.push_back(record);
    write_history_csv(run_directory / "history.csv", trainer.metric_names(), history);
    spdlog::debug("epoch {} done", record.epoch);
  });
  std::string summary;
  for (const auto& [name, value] : named_values(history.back(), trainer.metric_names())) {
    summary += (summary.empty() ? "" : ", ") + name + " " + fmt::format("{:.4f}", value);
  }
  spdlog::info("done: {}; history in {}", summary, (run_directory / "history.csv").string());
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
          {"optimizer_milliseconds", r.optimizer_milliseconds},
          {"step_flops", r.step_flops},
          {"achieved_gflops", r.achieved_gflops},
          {"peak_gflops", r.peak_gflops},
          {"arena_bytes", r.arena_bytes},
          {"unplanned_bytes", r.unplanned_bytes},
          {"plan_bytes", r.plan_bytes},
          {"parameter_bytes", r.parameter_bytes},
          {"optimizer_state_bytes", r.optimizer_state_bytes},
          {"peak_rss_bytes", r.peak_rss_bytes},
          {"nodes", nodes}};
}

struct BenchCommand {
  int64_t steps = 300;
  std::optional<int64_t> batch;
  std::string json;
};

int bench(CommandOptions options, const BenchCommand& command) {
  apply_threads(options.threads);
  if (command.batch)
    options.overrides.push_back("trainer.batch_size=" + std::to_string(*command.batch));
  Trainer trainer(load(options));
  const BenchReport report =
      run_bench(trainer, {.steps = command.steps, .warmup = command.steps / 10 + 1});
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

struct GradcheckCommand {
  std::string op;
  std::vector<std::string> shapes;
  std::vector<std::string> attributes;
  std::vector<size_t> fixed;  // inputs without a gradient (targets)
  double low = -1.0, high = 1.0;
  int64_t batch = 4;
  int64_t elements = 16;
  std::optional<double> step;
  GradientTolerance tolerance;  // its step is set from `step` or the mode's default
};

Shape parse_shape(const std::string& text) {
  Shape shape;
  std::stringstream parts(text);
  for (std::string part; std::getline(parts, part, ',');) {
    char* end = nullptr;
    const long long size = std::strtoll(part.c_str(), &end, 10);
    if (part.empty() || *end != '\0' || size <= 0) {
      throw InputError("--shape " + text +
                       ": expected positive sizes separated by commas, e.g. 4,5");
    }
    shape.push_back(size);
  }
  return shape;
}

void print_check_header(const GradientTolerance& tolerance) {
  std::printf(
      "central differences with step %g; a gradient passes when |numeric - analytic| <= "
      "%g + %g·|numeric|\n",
      tolerance.step, tolerance.absolute, tolerance.relative);
  std::printf("%-34s %-16s %8s %6s %11s %11s  %s\n", "gradient of", "shape", "checked", "kinks",
              "worst abs", "worst rel", "result");
}

bool print_check_row(const std::string& name, const Shape& shape, int64_t checked, int64_t kinks,
                     double absolute, double relative, int64_t failures) {
  std::printf("%-34s %-16s %8lld %6lld %11.3g %11.3g  %s\n", name.c_str(), to_string(shape).c_str(),
              static_cast<long long>(checked), static_cast<long long>(kinks), absolute, relative,
              failures == 0 ? "ok" : (std::to_string(failures) + " outside").c_str());
  return failures == 0;
}

int gradcheck_op(const CommandOptions& options, const GradcheckCommand& command) {
  for (const std::string& plugin : options.plugins) load_plugin(plugin);
  const Op& op = OpRegistry::global().get(command.op);
  if (command.shapes.empty())
    throw InputError("--op " + command.op + ": give each input's --shape");
  OpUnderTest test{.op = command.op};
  for (size_t i = 0; i < command.shapes.size(); ++i) {
    const Shape shape = parse_shape(command.shapes[i]);
    const bool differentiable = std::ranges::find(command.fixed, i) == command.fixed.end();
    test.inputs.push_back(f32_input(
        shape, random_values(numel(shape), 100 + i, float(command.low), float(command.high)),
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
  const std::vector<GradientReport> reports = check_gradients(test, command.tolerance);
  bool passed = true;
  for (const GradientReport& report : reports) {
    const OpInput& input = test.inputs[report.input];
    const std::string name = command.op + " input " + std::to_string(report.input);
    passed &= print_check_row(name, input.type.shape, report.checked, report.kinks,
                              report.worst_absolute, report.worst_relative, report.failures);
  }
  if (!passed) throw RuntimeError("gradient check failed for op '" + command.op + "'");
  std::printf("op '%s': every input's gradient passes\n", command.op.c_str());
  return 0;
}

int gradcheck(const CommandOptions& options, GradcheckCommand command) {
  // A whole network has a corner (a relu's kink) near many weights: its default step is
  // smaller; an op's inputs are under the user's control.
  command.tolerance.step = command.step.value_or(command.op.empty() ? 1e-3 : 1e-2);
  if (!command.op.empty()) {
    if (!options.config.empty()) throw InputError("gradcheck: give a CONFIG or --op, not both");
    return gradcheck_op(options, command);
  }
  if (options.config.empty()) throw InputError("gradcheck: give a CONFIG or --op NAME");
  apply_threads(options.threads);
  const Experiment experiment = load(options);
  print_check_header(command.tolerance);
  const std::vector<ParameterCheck> checks =
      check_experiment_gradients(experiment, command.batch, command.elements, command.tolerance);
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
              static_cast<long long>(command.batch));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"trainer: train neural networks described in YAML experiment files, on oneDNN"};
  app.set_version_flag("--version", std::string(LOOM_VERSION));
  app.require_subcommand(1);

  CommandOptions train_options;
  std::string out;
  CLI::App* train_command = app.add_subcommand("train", "train the model of an experiment file");
  add_common_options(*train_command, train_options);
  train_command->add_option("--out", out, "the run directory (default: runs/<name>-<time>)");

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
  gradcheck_command
      ->add_option("--batch", gradcheck_settings.batch,
                   "with CONFIG: training samples in the checked batch (4)")
      ->check(CLI::PositiveNumber);
  gradcheck_command
      ->add_option("--elements", gradcheck_settings.elements,
                   "with CONFIG: elements checked per parameter (16)")
      ->check(CLI::PositiveNumber);
  gradcheck_command
      ->add_option("--step", gradcheck_settings.step,
                   "the difference step (default 0.001 for a CONFIG, 0.01 for --op)")
      ->check(CLI::PositiveNumber);

  CommandOptions bench_options;
  BenchCommand bench_command;
  CLI::App* bench_subcommand = app.add_subcommand(
      "bench", "time training and inference steps: per-node table, GFLOP/s, memory");
  add_common_options(*bench_subcommand, bench_options);
  bench_subcommand->add_option("--steps", bench_command.steps, "timed steps per measurement")
      ->check(CLI::PositiveNumber);
  bench_subcommand->add_option("--batch", bench_command.batch, "batch size (default: the config's)")
      ->check(CLI::PositiveNumber);
  bench_subcommand->add_option("--json", bench_command.json, "also write the figures as JSON here");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == 0) return app.exit(error);  // --help, --version
    std::fprintf(stderr, "error: %s (see trainer --help)\n", error.what());
    return kBadInput;
  }

  // Logs go to stderr; stdout carries the progress and results.
  spdlog::set_default_logger(spdlog::stderr_color_mt("loom"));
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");
  try {
    if (*train_command) return train(train_options, out);
    if (*graph_command) return graph(graph_options, graph_settings);
    if (*gradcheck_command) return gradcheck(gradcheck_options, gradcheck_settings);
    if (*bench_subcommand) return bench(bench_options, bench_command);
  } catch (const InputError& error) {
    std::fprintf(stderr, "error: %s\n", error.what());
    return kBadInput;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "failure: %s\n", error.what());
    return kRuntimeFailure;
  }
  return 0;
}
