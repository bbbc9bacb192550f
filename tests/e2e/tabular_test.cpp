// The configs in configs/tabular, trained by the trainer tool on Debian's python3-sklearn
// tables as a user runs them, must reach what a Keras user gets. Each trains on a fixed
// split: the rows shuffled with a fixed seed, the last fifth held out for validation (the
// wine and iris tables are ordered by class, and Boston's last towns are unlike the rest, so
// the file's last rows alone would not do). Only the data section of each config is replaced
// (its model and trainer are the shipped ones), by CSV files the test writes: the split, and
// the features standardized on the training part as Keras's Normalization layer would.
// TODO(normalization): once the layer lands, the configs standardize and the copies need not.

#include <gtest/gtest.h>
#include <zlib.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "engine/core/random.hpp"
#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

const std::string kSklearnData = "/usr/lib/python3/dist-packages/sklearn/datasets/data";

using Row = std::vector<double>;

// The numeric rows of a sklearn table (plain or gzip), after `skip` lines.
std::vector<Row> read_table(const std::string& file, int skip) {
  gzFile in = gzopen(file.c_str(), "rb");
  EXPECT_NE(in, nullptr) << file;
  std::string text;
  char chunk[1 << 16];
  for (int count; in && (count = gzread(in, chunk, sizeof chunk)) > 0;) text.append(chunk, count);
  if (in) gzclose(in);
  std::vector<Row> rows;
  std::istringstream lines(text);
  int line_number = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line_number++ < skip || line.empty()) continue;
    Row row;
    std::istringstream cells(line);
    for (std::string cell; std::getline(cells, cell, ',');) row.push_back(std::stod(cell));
    rows.push_back(row);
  }
  return rows;
}

struct Split {
  std::vector<Row> train, validation;
};

// Shuffles with a fixed seed (the engine's portable generator) and holds out the last fifth.
Split split(std::vector<Row> rows) {
  Random random(2024);
  random.shuffle(std::span<Row>(rows));
  const auto train_rows = std::ptrdiff_t(rows.size() * 4 / 5);
  return {{rows.begin(), rows.begin() + train_rows}, {rows.begin() + train_rows, rows.end()}};
}

// Every column but the last (the target) to mean 0 and standard deviation 1 on `train`.
void standardize(Split& data) {
  const size_t features = data.train.front().size() - 1;
  for (size_t column = 0; column < features; ++column) {
    double sum = 0, squares = 0;
    for (const Row& row : data.train) sum += row[column];
    const double mean = sum / double(data.train.size());
    for (const Row& row : data.train) squares += (row[column] - mean) * (row[column] - mean);
    const double deviation = std::sqrt(squares / double(data.train.size()));
    for (auto* part : {&data.train, &data.validation}) {
      for (Row& row : *part) row[column] = (row[column] - mean) / (deviation > 0 ? deviation : 1);
    }
  }
}

void write_csv(const std::string& file, const std::vector<Row>& rows) {
  std::ofstream out(file);
  out.precision(9);
  for (const Row& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) out << (i ? "," : "") << row[i];
    out << "\n";
  }
}

// The shipped config with its data section replaced by the split's files (no header; the
// target is the last column), written into `directory`.
std::string config_on_split(const std::string& config, const TemporaryDirectory& directory,
                            const std::string& extra_data = "") {
  std::ifstream in(source_path(config));
  std::stringstream text;
  text << in.rdbuf();
  const std::string original = text.str();
  const size_t data = original.find("\ndata:\n"), model = original.find("\nmodel:\n");
  EXPECT_NE(data, std::string::npos);
  EXPECT_NE(model, std::string::npos);
  const std::string source = "{format: csv, header: false, targets: -1, file: ";
  const std::string written = original.substr(0, data) + "\ndata:\n  train: " + source +
                              "train.csv}\n  validation: " + source + "validation.csv}\n" +
                              extra_data + original.substr(model);
  const std::string file = directory.file("config.yaml");
  std::ofstream(file) << written;
  return file;
}

// The trainer's history.csv as rows of cells.
std::vector<std::vector<std::string>> read_history(const std::string& file) {
  std::ifstream in(file);
  std::vector<std::vector<std::string>> rows;
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::istringstream cells_text(line);
    for (std::string cell; std::getline(cells_text, cell, ',');) cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

// The last epoch's value of `column` in the run's history.
double final_value(const std::string& run, const std::string& column) {
  const auto rows = read_history(run + "/history.csv");
  EXPECT_GE(rows.size(), 2u);
  if (rows.size() < 2) return NAN;
  for (size_t i = 0; i < rows[0].size(); ++i) {
    if (rows[0][i] == column) return std::stod(rows.back()[i]);
  }
  ADD_FAILURE() << "no column " << column << " in " << run << "/history.csv";
  return NAN;
}

struct Table {
  std::string config;
  std::string file;
  int skip;  // the count line, and Boston's header
  bool standardized;
};

// Trains `table`'s config on its split; the run directory.
std::string train_on_split(const Table& table, const TemporaryDirectory& directory,
                           const std::string& extra_data = "") {
  if (!std::filesystem::exists(kSklearnData + "/" + table.file)) {
    ADD_FAILURE() << kSklearnData << "/" << table.file << " is missing: run tools/setup.sh";
    return "";
  }
  Split data = split(read_table(kSklearnData + "/" + table.file, table.skip));
  if (table.standardized) standardize(data);
  write_csv(directory.file("train.csv"), data.train);
  write_csv(directory.file("validation.csv"), data.validation);
  const std::string run = directory.file("run");
  const CommandResult result =
      run_command(trainer_path() + " train " +
                  config_on_split(table.config, directory, extra_data) + " --out " + run);
  EXPECT_EQ(result.exit_code, 0) << result.err;
  return run;
}

TEST(Tabular, BreastCancerBinaryClassifierReachesKerasAccuracy) {
  TemporaryDirectory directory;
  const std::string run = train_on_split(
      {"configs/tabular/breast_cancer.yaml", "breast_cancer.csv", 1, true}, directory);
  EXPECT_GE(final_value(run, "val_accuracy"), 0.95);
}

TEST(Tabular, WineThreeClassesReachKerasAccuracy) {
  TemporaryDirectory directory;
  const std::string run =
      train_on_split({"configs/tabular/wine.yaml", "wine_data.csv", 1, true}, directory);
  EXPECT_GE(final_value(run, "val_accuracy"), 0.95);
}

TEST(Tabular, IrisReachesKerasAccuracy) {
  TemporaryDirectory directory;
  const std::string run =
      train_on_split({"configs/tabular/iris.yaml", "iris.csv", 1, false}, directory);
  EXPECT_GE(final_value(run, "val_accuracy"), 0.9);
}

TEST(Tabular, DigitsConvnetReachesKerasAccuracy) {
  TemporaryDirectory directory;
  const std::string run = train_on_split({"configs/tabular/digits.yaml", "digits.csv.gz", 0, false},
                                         directory, "  scale: 0.0625\n");
  EXPECT_GE(final_value(run, "val_accuracy"), 0.95);
}

// The book's §3.6 model on standardized features: its validation MAE must be well under
// that of predicting the training mean for every town (about 6 on this split; the book's
// 4-fold figure is about 2.5).
TEST(Tabular, BostonHousingRegressionBeatsTheMeanPredictor) {
  TemporaryDirectory directory;
  const Table table{"configs/tabular/boston_housing.yaml", "boston_house_prices.csv", 2, true};
  const Split data = split(read_table(kSklearnData + "/" + table.file, table.skip));
  double mean = 0, baseline = 0;
  for (const Row& row : data.train) mean += row.back() / double(data.train.size());
  for (const Row& row : data.validation) {
    baseline += std::abs(row.back() - mean) / double(data.validation.size());
  }
  const std::string run = train_on_split(table, directory);
  const double mae = final_value(run, "val_mae");
  EXPECT_LT(mae, 0.5 * baseline) << "mean predictor's MAE " << baseline;
  std::printf("boston: validation MAE %.2f, mean predictor %.2f\n", mae, baseline);
}

}  // namespace
}  // namespace loom::testing
