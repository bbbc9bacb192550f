#pragma once
// Range checks for the trainer's flags and environment variables. Each refuses a bad value
// with one InputError line naming the flag (or variable), the value and the range, before
// anything runs: a thread count libgomp cannot start, a seed that would wrap, a step that
// makes a gradient check meaningless.

#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "engine/core/tensor_type.hpp"

namespace loom {

// The worker threads to use: `flag` (--threads; 0 means not given), else $LOOM_THREADS, else
// none (every core). At most kThreadsPerCore per core.
std::optional<int> resolve_thread_count(int flag);
inline constexpr int kThreadsPerCore = 8;

// --seed: a whole number from 0 to 2^63 - 1 (the config's range), never a wrapped -1.
uint64_t parse_seed(const std::string& text);

// A count flag (--batch, --elements): a whole number from 1 to `high`, or InputError
// "<flag> <text>: expected a whole number from 1 to <high>".
int64_t parse_count(const std::string& flag, const std::string& text, int64_t high);

// --shape 4,5: positive sizes whose product is at most `max_elements`.
Shape parse_shape(const std::string& text, int64_t max_elements);

// A finite number in [low, high], or InputError "<flag> <text>: expected ...".
double expect_finite_in(const std::string& flag, double value, double low, double high);

// argv[1] when it is neither a known subcommand nor an option: the one-line error says what
// is known and what was probably meant.
std::optional<std::string> unknown_subcommand_message(int argc, char** argv,
                                                      std::span<const std::string> known);

}  // namespace loom
