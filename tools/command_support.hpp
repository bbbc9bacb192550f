#pragma once
// What the trainer's commands share: the flags every command takes, loading an experiment
// from them, the exit codes, and the rules for running under mpirun.
//
// Every rank runs this same program. Setting up (the config, the data, a checkpoint) can fail
// on one rank only (a data file missing on one machine), so the ranks agree on the outcome
// before training starts: the lowest failing rank prints its error and every rank exits with
// its code. Once training runs, the ranks meet at every step, so a rank that fails ends the
// whole run (MPI_Abort) after printing its error; checkpoints are written atomically, so the
// last good one survives.

#include <CLI/CLI.hpp>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/config/experiment.hpp"
#include "engine/dist/communicator.hpp"

namespace loom {

inline constexpr int kSucceeded = 0;
inline constexpr int kRuntimeFailure = 1;
inline constexpr int kBadInput = 2;
inline constexpr int kInterrupted = 130;  // 128 + SIGINT, as a shell reports it

// kBadInput for an InputError, kRuntimeFailure for anything else.
int exit_code_of(const std::exception& error);

// "error: ..." for bad input, "failure: ..." otherwise; under mpirun a rank other than 0 says
// which it is.
void print_error(const Communicator& world, int exit_code, const std::string& what);
// `text` as one printable line: a newline, a tab or another control character a user put in a
// name or value is written as \n, \t or \xNN, so an error stays the one line it promises.
std::string one_line(std::string_view text);
// A command's result: to stdout when `file` is empty, else written atomically (a failure
// leaves any earlier file whole).
void write_output(const std::string& file, const std::string& text);

// Another rank's setup failed and printed why; this rank exits with its code, silently.
struct PeerFailed {
  int exit_code;
};

// Runs `setup` on every rank, then agrees on its outcome: when any rank failed, the lowest
// failing one prints its error and every rank throws PeerFailed with that rank's exit code.
// In one process the error is simply rethrown.
void agree_on_setup(Communicator& world, const std::function<void()>& setup);

// Whether the ranks are inside training steps, where they meet at every collective: a
// failure then must end every rank at once (main aborts the world) rather than leave the
// others waiting. Set before a fit or a bench and cleared after; left set when it throws.
void set_ranks_in_step(bool in_step);
bool ranks_in_step();

// Commands that have no distributed meaning refuse to run under mpirun.
void expect_single_process(Communicator& world, const char* command);

// The flags every command takes.
struct CommandOptions {
  std::string config;
  std::vector<std::string> plugins;
  std::vector<std::string> overrides;
  std::string seed;  // checked by parse_seed: CLI11 would wrap -1
  int threads = 0;
};

// `config_help`: what the positional argument is, for commands that take more than a config.
void add_common_options(CLI::App& command, CommandOptions& options, bool config_required = true,
                        const char* config_help = "the experiment file (YAML)");

// Loads the plugins, then the experiment with the overrides (and --seed) applied. Inference
// (evaluate, predict) checks the training set's files only when it reads them.
Experiment load(const CommandOptions& options, DataUse use = DataUse::training);

// How a command runs when neither --threads nor $LOOM_THREADS (nor $OMP_NUM_THREADS) fixes
// the count: on every core, or adaptive (engine/exec/threads.hpp), which training uses.
enum class ThreadUse { every_core, adaptive };

// --threads (else $LOOM_THREADS) for OpenMP, fixed; else `use`.
void apply_threads(int threads, ThreadUse use = ThreadUse::every_core);

}  // namespace loom
