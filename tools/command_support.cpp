#include "tools/command_support.hpp"

#include <omp.h>

#include <cstdio>
#include <cstdlib>
#include <optional>

#include "engine/core/error.hpp"
#include "engine/exec/threads.hpp"
#include "engine/plugin/load_plugin.hpp"
#include "engine/train/history.hpp"
#include "tools/flags.hpp"

namespace loom {

namespace {

bool g_ranks_in_step = false;

}  // namespace

int exit_code_of(const std::exception& error) {
  return dynamic_cast<const InputError*>(&error) ? kBadInput : kRuntimeFailure;
}

void print_error(const Communicator& world, int exit_code, const std::string& what) {
  const std::string rank =
      world.size() > 1 && !world.is_root()
          ? "rank " + std::to_string(world.rank()) + " of " + std::to_string(world.size()) + ": "
          : "";
  std::fprintf(stderr, "%s: %s%s\n", exit_code == kBadInput ? "error" : "failure", rank.c_str(),
               one_line(what).c_str());
}

void write_output(const std::string& file, const std::string& text) {
  if (file.empty()) {
    std::fputs(text.c_str(), stdout);
  } else {
    write_file_atomically(file, text);
  }
}

std::string one_line(std::string_view text) {
  std::string line;
  line.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      line += "\\n";
    } else if (c == '\t') {
      line += "\\t";
    } else if (byte < 0x20 || byte == 0x7f) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\x%02x", byte);
      line += escaped;
    } else {
      line += c;
    }
  }
  return line;
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

void set_ranks_in_step(bool in_step) {
  g_ranks_in_step = in_step;
}

bool ranks_in_step() {
  return g_ranks_in_step;
}

void expect_single_process(Communicator& world, const char* command) {
  if (world.size() > 1) {
    throw InputError(std::string(command) +
                     " runs in one process; under mpirun only train and bench run distributed");
  }
}

void add_common_options(CLI::App& command, CommandOptions& options, bool config_required,
                        const char* config_help) {
  command.add_option("config", options.config, config_help)->required(config_required);
  command.add_option("--plugin", options.plugins,
                     "load ops and optimizers from this shared library first (repeatable)");
  command.add_option("--set", options.overrides,
                     "override a config value, e.g. --set trainer.epochs=3 (repeatable)");
  command.add_option("--seed", options.seed, "the random seed (overrides the config's seed)");
  command.add_option(
      "--threads", options.threads,
      "a fixed number of worker threads (default: $LOOM_THREADS; else training adapts "
      "the count to the machine's load, and other commands use every core)");
}

Experiment load(const CommandOptions& options, DataUse use) {
  for (const std::string& plugin : options.plugins) load_plugin(plugin);
  std::vector<std::string> overrides = options.overrides;
  if (!options.seed.empty())
    overrides.push_back("seed=" + std::to_string(parse_seed(options.seed)));
  return load_experiment(options.config, overrides, use);
}

void apply_threads(int threads, ThreadUse use) {
  if (const std::optional<int> count = resolve_thread_count(threads)) {
    omp_set_num_threads(*count);
    return;
  }
  // OpenMP has read $OMP_NUM_THREADS already: a count the user set, kept fixed.
  const char* openmp_count = std::getenv("OMP_NUM_THREADS");
  const bool user_fixed = openmp_count != nullptr && *openmp_count != '\0';
  set_adaptive_threads(use == ThreadUse::adaptive && !user_fixed);
}

}  // namespace loom
