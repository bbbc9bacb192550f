// trainer: the command-line tool. Each command is a row of a table (tools/commands/); main
// builds the command line from the rows, runs the chosen one, and turns the library's errors
// into one line and an exit code: 0 success, 2 bad input (config, data, flags), 1 a failure
// while running, 130 interrupted.

#include "engine/train/trainer.hpp"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "engine/dist/communicator.hpp"
#include "tools/command_support.hpp"
#include "tools/commands/command.hpp"
#include "tools/flags.hpp"
#include "tools/signal_watcher.hpp"

using namespace loom;

namespace {

// MPI's world under mpirun, else one process; null when MPI cannot start. Every rank fails
// alike then, and the launcher's rank 0 says why. MPI may take its own arguments out of argv.
std::unique_ptr<Communicator> start_communicator(int& argc, char**& argv) {
  try {
    return make_communicator(argc, argv);
  } catch (const std::exception& error) {
    const char* rank = std::getenv("OMPI_COMM_WORLD_RANK");
    if (rank == nullptr || std::string_view(rank) == "0") {
      std::fprintf(stderr, "error: %s\n", one_line(error.what()).c_str());
    }
    return nullptr;
  }
}

// Parses the command line; an exit code when there is nothing to run (--help, --version, or
// a flag error, which rank 0 alone prints).
std::optional<int> parse_command_line(CLI::App& app, int argc, char** argv,
                                      const std::vector<Command>& commands,
                                      const Communicator& world) {
  std::vector<std::string> names;
  for (const Command& command : commands) names.push_back(command.name);
  if (const auto message = unknown_subcommand_message(argc, argv, names)) {
    if (world.is_root()) std::fprintf(stderr, "error: %s\n", one_line(*message).c_str());
    return kBadInput;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (!world.is_root()) return error.get_exit_code() == 0 ? kSucceeded : kBadInput;
    if (error.get_exit_code() == 0) return app.exit(error);  // --help, --version
    std::fprintf(stderr, "error: %s (see trainer --help)\n", one_line(error.what()).c_str());
    return kBadInput;
  }
  return std::nullopt;
}

// Logs go to stderr; stdout carries the progress and results. Under mpirun, rank 0 logs.
void set_up_logging(const Communicator& world) {
  spdlog::set_default_logger(spdlog::stderr_color_mt("loom"));
  spdlog::set_pattern("[%H:%M:%S] %^%l%$ %v");
  if (!world.is_root()) spdlog::set_level(spdlog::level::warn);
}

int run(const Command& command, Communicator& world) {
  try {
    return command.run(world);
  } catch (const PeerFailed& failed) {
    return failed.exit_code;
  } catch (const std::exception& error) {
    // In a step the other ranks wait for this one at the next collective: end them all. Any
    // other error is the same on every rank, and rank 0 says it.
    if (ranks_in_step()) {
      print_error(world, exit_code_of(error), error.what());
      world.abort(exit_code_of(error));
    }
    if (world.is_root()) print_error(world, exit_code_of(error), error.what());
    return exit_code_of(error);
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Before any thread exists (MPI's, OpenMP's): see signal_watcher.hpp.
  block_stop_signals(Trainer::stop_requested());
  const std::unique_ptr<Communicator> world = start_communicator(argc, argv);
  if (!world) return kBadInput;

  CLI::App app{"trainer: train neural networks described in YAML experiment files, on oneDNN"};
  app.set_version_flag("--version", std::string(LOOM_VERSION));
  app.require_subcommand(1);
  const std::vector<Command> commands = {
      train_command(), evaluate_command(),  predict_command(), export_command(), summary_command(),
      graph_command(), gradcheck_command(), bench_command(),   kfold_command(),  options_command()};
  std::vector<const CLI::App*> subcommands;
  for (const Command& command : commands) {
    CLI::App* subcommand = app.add_subcommand(command.name, command.description);
    command.add_flags(*subcommand);
    subcommands.push_back(subcommand);
  }
  if (const std::optional<int> exit_code = parse_command_line(app, argc, argv, commands, *world)) {
    return *exit_code;
  }

  set_up_logging(*world);
  for (size_t i = 0; i < commands.size(); ++i) {
    if (*subcommands[i]) return run(commands[i], *world);
  }
  return kSucceeded;
}
