#pragma once
// history.csv: one row per epoch, rewritten whole after each epoch through a temporary file
// and a rename, so a reader never sees half a file.

#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "engine/train/progress.hpp"

namespace loom {

// Columns: epoch, loss, <metrics>, val_..., test_loss, test_<metrics>, learning_rate,
// seconds, samples_per_second.
void write_history_csv(const std::filesystem::path& file, std::span<const std::string> metric_names,
                       std::span<const EpochRecord> history);

// The history as JSON (history.json, and inside checkpoints; engine/train/checkpoint.cpp
// reads it back with every entry checked).
std::string history_json(std::span<const std::string> metric_names,
                         std::span<const EpochRecord> history);

// Writes `text` to `file` atomically: a temporary file beside it, fsync, rename.
void write_file_atomically(const std::filesystem::path& file, const std::string& text);

}  // namespace loom
