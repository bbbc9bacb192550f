#pragma once
// One subcommand of the trainer tool, as a row of its command table: main adds a CLI11
// subcommand per row (name and description make the --help listing), lets the row add its
// flags, and runs the one the command line chose. Each command file keeps its parsed flags in
// storage that both functions share, so a row is all main needs to know of a command.

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "engine/dist/communicator.hpp"
#include "tools/command_support.hpp"

namespace loom {

struct Command {
  std::string name;
  std::string description;
  std::function<void(CLI::App& subcommand)> add_flags;
  // Runs with the flags as parsed; returns the exit code. Errors are thrown, and main maps
  // them to exit codes (tools/command_support.hpp).
  std::function<int(Communicator& world)> run;
};

// A command's parsed flags: those every command takes (config, --plugin, --set, --seed,
// --threads) and its own.
template <typename Settings>
struct CommandFlags {
  CommandOptions options;
  Settings settings;
};

// The row of a command whose flags are CommandFlags<Settings>: `add_flags` declares them on
// its subcommand, `run` runs with them as parsed. The flags live as long as the row.
template <typename Settings>
Command make_command(std::string name, std::string description,
                     std::function<void(CLI::App&, CommandFlags<Settings>&)> add_flags,
                     std::function<int(const CommandFlags<Settings>&, Communicator&)> run) {
  const auto flags = std::make_shared<CommandFlags<Settings>>();
  return {.name = std::move(name),
          .description = std::move(description),
          .add_flags = [flags, add_flags](CLI::App& command) { add_flags(command, *flags); },
          .run = [flags, run](Communicator& world) { return run(*flags, world); }};
}

// The rows, in the order --help lists them; one file each under tools/commands/.
Command train_command();
Command evaluate_command();
Command predict_command();
Command graph_command();
Command gradcheck_command();
Command bench_command();
Command options_command();
Command kfold_command();
Command export_command();
Command summary_command();

}  // namespace loom
