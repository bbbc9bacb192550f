// `trainer predict`: the model's outputs for each input sample, as CSV, from a model file, a
// run directory, or a config with a checkpoint. Classifiers give index,p0,...,p<k-1>,predicted (the
// class name when the training data named its classes); a single sigmoid unit gives
// index,p,predicted (0/1 or the name); anything else gives index,y0,...,y<k-1>.

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "engine/config/read_data.hpp"
#include "engine/data/csv_samples.hpp"
#include "engine/data/dataset.hpp"
#include "engine/train/prediction.hpp"
#include "engine/train/session.hpp"
#include "tools/command_support.hpp"
#include "tools/commands/command.hpp"
#include "tools/trained_model.hpp"

namespace loom {

namespace {

namespace fs = std::filesystem;

struct PredictSettings {
  std::string weights;
  std::string input;
  std::string output;
};

Dataset read_input(Session& session, const fs::path& input) {
  const Experiment& experiment = session.experiment();
  DatasetRequest request = dataset_request(experiment, session.classes(), &session.class_names());
  request.targets_required = false;
  if (const std::optional<DatasetSpec> spec = input_source(experiment.data, input)) {
    return load_dataset(*spec, request);
  }
  const Shape& shape = experiment.model.input.shape;
  return prepare_dataset({.features = read_csv_samples(input, shape, "--input")},
                         {.where = "--input " + input.string()}, request);
}

std::string class_label(const std::vector<std::string>& names, int64_t index) {
  return index < std::ssize(names) ? names[size_t(index)] : std::to_string(index);
}

std::string header(OutputKind kind, int64_t units) {
  if (kind == OutputKind::probability) return "index,p,predicted\n";
  std::string text = "index";
  const char* prefix = kind == OutputKind::classes ? ",p" : ",y";
  for (int64_t c = 0; c < units; ++c) text += prefix + std::to_string(c);
  return text + (kind == OutputKind::classes ? ",predicted\n" : "\n");
}

int predict(const CommandOptions& options, const PredictSettings& command, Communicator& world) {
  expect_single_process(world, "predict");
  apply_threads(options.threads);
  const std::unique_ptr<Session> opened = open_trained_model(options, command.weights);
  Session& session = *opened;
  const Dataset data = read_input(session, command.input);
  const int64_t units = session.classes();
  const OutputReading reading = output_reading(session.experiment(), units);
  const std::vector<std::string>& names = session.class_names();
  std::string text = header(reading.kind, units);
  std::vector<float> row(size_t(units), 0.f);
  char cell[32];
  session.infer(data, {0, data.size()}, [&](const InferenceBatch& batch) {
    for (int64_t r = 0; r < std::ssize(batch.indices); ++r) {
      reading.read(batch.predictions + r * units, row.data());
      text += std::to_string(batch.first + r);
      for (const float value : row) {
        std::snprintf(cell, sizeof cell, ",%.6g", value);
        text += cell;
      }
      if (reading.kind != OutputKind::values) {
        text += "," + class_label(names, reading.predicted_class(row.data()));
      }
      text += "\n";
    }
  });
  write_output(command.output, text);
  return kSucceeded;
}

using PredictFlags = CommandFlags<PredictSettings>;

void add_predict_flags(CLI::App& command, PredictFlags& flags) {
  add_common_options(command, flags.options, true, kTrainedModelHelp);
  command.add_option("--weights", flags.settings.weights,
                     "a checkpoint (with a config; a run directory's default: best, else last)");
  command
      .add_option("--input", flags.settings.input,
                  "samples: .npy, .npz, .csv (the training set's columns, or pixel rows), an "
                  "image or a folder of images, else an idx file (plain or .gz)")
      ->required();
  command.add_option("--output", flags.settings.output, "the CSV file (default: stdout)");
}

}  // namespace

Command predict_command() {
  return make_command<PredictSettings>(
      "predict",
      "the model's outputs for each input (class probabilities and the top class), "
      "as CSV",
      add_predict_flags, [](const PredictFlags& flags, Communicator& world) {
        return predict(flags.options, flags.settings, world);
      });
}

}  // namespace loom
