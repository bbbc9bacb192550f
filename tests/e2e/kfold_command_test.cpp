// `trainer kfold` on the book's Boston housing regression (Debian's python3-sklearn table):
// the per-fold runs, the mean curve with the learning rate per epoch, the report with the
// mean predictor's baseline, which the folds must beat by far; and its refusals.

#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

const std::string kBoston = "/usr/lib/python3/dist-packages/sklearn/datasets/data";

TEST(KFoldCommand, BostonHousingFoldsBeatTheMeanPredictor) {
  if (!std::ifstream(kBoston + "/boston_house_prices.csv")) {
    GTEST_SKIP() << "python3-sklearn's tables are not installed (tools/setup.sh installs them)";
  }
  TemporaryDirectory directory;
  const std::string out = directory.file("kfold");
  const CommandResult result = run_command(
      trainer_path() + " kfold " + source_path("configs/tabular/boston_housing.yaml") +
      " --folds 3 --out " + out + " --set data.validation_split=0 --set trainer.epochs=40");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  for (const char* file : {"config.yaml", "mean_history.csv", "kfold.json", "fold_1/history.csv",
                           "fold_3/last.safetensors"}) {
    EXPECT_TRUE(std::ifstream(out + "/" + file)) << file;
  }
  std::ifstream report_file(out + "/kfold.json");
  const nlohmann::json report = nlohmann::json::parse(report_file);
  ASSERT_EQ(report["folds"].size(), 3u);
  const double mae = report["mean"]["val_mae"], baseline = report["mean"]["baseline_mae"];
  EXPECT_GT(baseline, 5.0);  // the table's spread: about 6.6 thousand dollars
  EXPECT_LT(mae, 0.6 * baseline) << result.err;
  // The mean curve has every epoch, with rmsprop's default learning rate recorded.
  std::ifstream curve(out + "/mean_history.csv");
  std::string header, first;
  std::getline(curve, header);
  std::getline(curve, first);
  EXPECT_NE(header.find("val_mae,"), std::string::npos) << header;
  EXPECT_NE(header.find(",learning_rate,"), std::string::npos) << header;
  EXPECT_NE(first.find(",0.001,"), std::string::npos) << first;
}

TEST(KFoldCommand, AConfigThatAlreadyValidatesIsRefused) {
  if (!std::ifstream(kBoston + "/boston_house_prices.csv")) GTEST_SKIP();
  TemporaryDirectory directory;
  const CommandResult result =
      run_command(trainer_path() + " kfold " + source_path("configs/tabular/boston_housing.yaml") +
                  " --folds 3 --out " + directory.file("kfold"));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("kfold validates on each fold in turn"), std::string::npos)
      << result.err;
  EXPECT_FALSE(std::ifstream(directory.file("kfold/config.yaml")));
}

}  // namespace
}  // namespace loom::testing
