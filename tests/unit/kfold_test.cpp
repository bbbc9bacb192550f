// K-fold's parts, mean curve and mean-predictor baseline on data made here.

#include "engine/train/kfold.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "tests/support/rejection.hpp"

namespace loom {
namespace {

// Samples 0..n-1 whose single feature and regression target are both the sample's index.
Dataset numbered(int64_t n) {
  std::vector<float> values(static_cast<size_t>(n), 0.f);
  for (int64_t i = 0; i < n; ++i) values[size_t(i)] = float(i);
  std::vector<std::byte> features(values.size() * 4), targets(values.size() * 4);
  std::memcpy(features.data(), values.data(), features.size());
  std::memcpy(targets.data(), values.data(), targets.size());
  return Dataset({.features = SampleArray::owned(ElementType::float32, {1}, std::move(features)),
                  .targets = SampleArray::owned(ElementType::float32, {1}, std::move(targets))},
                 BatchFormat{.encoding = LabelEncoding::dense, .width = 1});
}

TEST(KFold, EachFoldValidatesOnItsPartAndTrainsOnTheRest) {
  const Dataset data = numbered(10);
  // 10 samples in 3 folds: parts [0, 3), [3, 6), [6, 10).
  const auto [train, validation] = kfold_split(data, 3, 1);
  ASSERT_EQ(validation.size(), 3);
  EXPECT_EQ(validation.row(0), 3);
  EXPECT_EQ(validation.row(2), 5);
  ASSERT_EQ(train.size(), 7);
  EXPECT_EQ(train.row(2), 2);
  EXPECT_EQ(train.row(3), 6);
  EXPECT_EQ(kfold_split(data, 3, 2).second.size(), 4);
  // Every sample validates exactly once.
  std::vector<int> seen(10, 0);
  for (int64_t fold = 0; fold < 3; ++fold) {
    const Dataset part = kfold_split(data, 3, fold).second;
    for (int64_t i = 0; i < part.size(); ++i) ++seen[size_t(part.row(i))];
  }
  EXPECT_EQ(seen, std::vector<int>(10, 1));
  testing::expect_input_error([&] { kfold_split(data, 11, 0); }, {"--folds 11", "10"});
}

TEST(KFold, MeanCurveAveragesTheEpochsEveryFoldReached) {
  std::vector<std::vector<EpochRecord>> folds(2);
  folds[0] = {{.epoch = 1, .loss = 4, .metrics = {1}}, {.epoch = 2, .loss = 2, .metrics = {3}}};
  folds[1] = {{.epoch = 1, .loss = 2, .metrics = {3}}};  // stopped early
  const std::vector<EpochRecord> mean = mean_history(folds);
  ASSERT_EQ(mean.size(), 1u);
  EXPECT_DOUBLE_EQ(mean[0].loss, 3);
  EXPECT_EQ(mean[0].metrics, (std::vector<double>{2}));
}

TEST(KFold, BaselinePredictsTheTrainingMean) {
  const Dataset data = numbered(8);
  // Validation: samples 0, 1; training mean (2 + ... + 7) / 6 = 4.5.
  const auto [train, validation] = kfold_split(data, 4, 0);
  const Baseline baseline = mean_predictor_baseline(train, validation);
  EXPECT_DOUBLE_EQ(baseline.mae, (4.5 + 3.5) / 2);
  EXPECT_DOUBLE_EQ(baseline.mse, (4.5 * 4.5 + 3.5 * 3.5) / 2);
}

}  // namespace
}  // namespace loom
