#pragma once
// What evaluate, predict and summary run on: a model file (trainer export), a run directory
// (its config.yaml with its best checkpoint, else its last), or a config with --weights.
// Only the inference plans are compiled, and no training data is read.

#include <memory>
#include <string>

#include "engine/train/session.hpp"
#include "tools/command_support.hpp"

namespace loom {

// `weights`: --weights (a checkpoint); required with a config, optional with a run directory,
// refused with a model file (it holds its own).
std::unique_ptr<Session> open_trained_model(const CommandOptions& options,
                                            const std::string& weights);

// The positional argument's help text for such commands.
inline constexpr const char* kTrainedModelHelp =
    "a model file (trainer export), a run directory, or a config (with --weights)";

}  // namespace loom
