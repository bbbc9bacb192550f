// `trainer predict`: class probabilities and the top class for each input image, as CSV
// (index,p0,...,p<k-1>,predicted), from a checkpoint's weights.

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "engine/data/csv_samples.hpp"
#include "engine/data/dataset.hpp"
#include "engine/train/session.hpp"
#include "tools/command_support.hpp"
#include "tools/commands/command.hpp"

namespace loom {

namespace {

namespace fs = std::filesystem;

struct PredictSettings {
  std::string weights;
  std::string input;
  std::string output;
};

// --input: a .csv of pixel rows, anything else an idx file (plain or gzip).
Dataset read_input(const fs::path& input, const Shape& sample) {
  if (input.extension() == ".csv") return read_csv_samples(input, sample, "--input");
  return load_unlabelled_images(input, sample);
}

int predict(const CommandOptions& options, const PredictSettings& command, Communicator& world) {
  expect_single_process(world, "predict");
  apply_threads(options.threads);
  Session session(load(options, DataUse::inference));
  session.load_weights(command.weights);
  const Dataset data = read_input(command.input, session.experiment().model.input.shape);
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
  write_output(command.output, text);
  return kSucceeded;
}

using PredictFlags = CommandFlags<PredictSettings>;

void add_predict_flags(CLI::App& command, PredictFlags& flags) {
  add_common_options(command, flags.options);
  command.add_option("--weights", flags.settings.weights, "a checkpoint")->required();
  command
      .add_option("--input", flags.settings.input,
                  "images: an idx file (plain or .gz) or a .csv of pixel rows")
      ->required();
  command.add_option("--output", flags.settings.output, "the CSV file (default: stdout)");
}

}  // namespace

Command predict_command() {
  return make_command<PredictSettings>(
      "predict", "class probabilities and the top class for each input, as CSV", add_predict_flags,
      [](const PredictFlags& flags, Communicator& world) {
        return predict(flags.options, flags.settings, world);
      });
}

}  // namespace loom
