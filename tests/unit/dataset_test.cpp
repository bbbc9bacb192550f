// Data sets built from arrays made here: the checks that tie features and targets to the
// model and the loss (counts, element counts, class indices, one-hot, binary and regression
// targets), views (limit, slices, subsets), the default scale, and batches as the plan sees
// them. The idx source is read from small files.

#include "engine/data/dataset.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "engine/data/idx.hpp"
#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom {
namespace {

using testing::expect_input_error;
using testing::TemporaryDirectory;

template <typename T>
SampleArray array_of(ElementType type, Shape sample_shape, const std::vector<T>& values) {
  std::vector<std::byte> bytes(values.size() * sizeof(T));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return SampleArray::owned(type, std::move(sample_shape), std::move(bytes));
}

// `count` samples of 4 uint8 pixels: pixel i of sample s is s·4 + i.
SampleArray pixels(int64_t count) {
  std::vector<uint8_t> values(size_t(count * 4));
  for (size_t i = 0; i < values.size(); ++i) values[i] = uint8_t(i);
  return array_of(ElementType::uint8, {2, 2}, values);
}

const DatasetSpec kSpec{.where = "test.yaml:3:10: data.train"};

DatasetRequest request(TargetFamily family, int64_t width) {
  return {.model_input = {4}, .targets = {.family = family, .width = width, .loss = "the_loss"}};
}

Dataset classes(const std::vector<int32_t>& labels, TargetFamily family, int64_t width) {
  return prepare_dataset({.features = pixels(std::ssize(labels)),
                          .targets = array_of(ElementType::int32, {1}, labels)},
                         kSpec, request(family, width));
}

TEST(Dataset, FeaturesTakeTheModelInputsShape) {
  const Dataset data = classes({0, 1, 2}, TargetFamily::class_index, 3);
  EXPECT_EQ(data.size(), 3);
  EXPECT_EQ(data.sample_shape(), (Shape{4}));
  EXPECT_EQ(data.format().encoding, LabelEncoding::index);
}

TEST(Dataset, SampleSizeMustMatchTheModelInput) {
  DatasetRequest wrong = request(TargetFamily::class_index, 3);
  wrong.model_input = {784};
  expect_input_error([&] { prepare_dataset({.features = pixels(2)}, kSpec, wrong); },
                     {kSpec.where, "[2, 2]", "4 values", "[784]"});
}

TEST(Dataset, FeatureAndTargetCountsMustAgree) {
  expect_input_error(
      [&] {
        prepare_dataset({.features = pixels(3),
                         .targets = array_of(ElementType::int32, {1}, std::vector<int32_t>{0, 1})},
                        kSpec, request(TargetFamily::class_index, 3));
      },
      {kSpec.where, "has 3 samples but", "has 2 targets"});
}

TEST(Dataset, ClassIndicesOutOfRangeAreRefusedWithTheSample) {
  expect_input_error(
      [&] {
        classes({0, 2, 3}, TargetFamily::class_index, 3);
      },
      {kSpec.where, "sample 2", "is 3", "class index 0..2"});
  expect_input_error(
      [&] {
        classes({0, -1}, TargetFamily::categorical, 3);
      },
      {"sample 1", "is -1"});
}

TEST(Dataset, CategoricalTakesClassIndicesOrOneHotRows) {
  EXPECT_EQ(classes({2, 0}, TargetFamily::categorical, 3).format().encoding,
            LabelEncoding::one_hot);
  const Dataset rows = prepare_dataset(
      {.features = pixels(2),
       .targets = array_of(ElementType::float32, {3}, std::vector<float>{0, 0, 1, 1, 0, 0})},
      kSpec, request(TargetFamily::categorical, 3));
  EXPECT_EQ(rows.format().encoding, LabelEncoding::dense);
  // One-hot rows for a sparse loss: say which loss takes them.
  expect_input_error(
      [&] {
        prepare_dataset(
            {.features = pixels(2),
             .targets = array_of(ElementType::float32, {3}, std::vector<float>{0, 0, 1, 1, 0, 0})},
            kSpec, request(TargetFamily::class_index, 3));
      },
      {"3 target values per sample", "categorical_crossentropy"});
}

TEST(Dataset, BinaryTargetsAreZeroToOnePerOutput) {
  const auto binary = [](std::vector<float> targets, int64_t width) {
    return prepare_dataset({.features = pixels(std::ssize(targets) / width),
                            .targets = array_of(ElementType::float32, {width}, targets)},
                           kSpec, request(TargetFamily::binary, width));
  };
  EXPECT_EQ(binary({0, 1, 1}, 1).format().encoding, LabelEncoding::dense);
  EXPECT_EQ(binary({0, 1, 1, 0}, 2).format().encoding, LabelEncoding::dense);  // k-hot
  expect_input_error([&] { binary({0, 2}, 1); }, {"sample 1", "holds 2", "from 0 to 1"});
  expect_input_error(
      [&] {
        prepare_dataset({.features = pixels(2),
                         .targets = array_of(ElementType::int32, {1}, std::vector<int32_t>{0, 2})},
                        kSpec, request(TargetFamily::binary, 3));
      },
      {"1 target values per sample", "3 units", "sparse_categorical_crossentropy"});
}

TEST(Dataset, RegressionTargetsMatchTheOutputAndMustBeFinite) {
  const auto regression = [](std::vector<double> targets, int64_t per_sample, int64_t width) {
    return prepare_dataset({.features = pixels(std::ssize(targets) / per_sample),
                            .targets = array_of(ElementType::float64, {per_sample}, targets)},
                           kSpec, request(TargetFamily::regression, width));
  };
  EXPECT_EQ(regression({1.5, -20, 3e6}, 1, 1).format().encoding, LabelEncoding::dense);
  EXPECT_EQ(regression({1, 2, 3, 4}, 2, 2).format().encoding, LabelEncoding::dense);
  expect_input_error(
      [&] {
        regression({1, 2, 3, 4}, 2, 1);
      },
      {"2 target values per sample", "1 units", "last layer"});
  expect_input_error(
      [&] {
        regression({1, std::numeric_limits<double>::quiet_NaN()}, 1, 1);
      },
      {"sample 1", "nan", "finite"});
}

TEST(Dataset, DefaultScaleIsForUint8ImagesOnly) {
  EXPECT_DOUBLE_EQ(default_scale(pixels(1)), 1.0 / 255.0);
  EXPECT_DOUBLE_EQ(default_scale(array_of(ElementType::uint8, {4}, std::vector<uint8_t>(4))), 1.0);
  EXPECT_DOUBLE_EQ(default_scale(array_of(ElementType::float32, {2, 2}, std::vector<float>(4))),
                   1.0);
  DatasetRequest declared = request(TargetFamily::class_index, 3);
  declared.scale = 0.5;
  declared.targets_required = false;
  EXPECT_FLOAT_EQ(prepare_dataset({.features = pixels(1)}, kSpec, declared).format().scale, 0.5f);
}

TEST(Dataset, LimitSlicesAndSubsetsAreViews) {
  DatasetSpec limited = kSpec;
  limited.limit = 4;
  const Dataset data = prepare_dataset(
      {.features = pixels(6),
       .targets = array_of(ElementType::int32, {1}, std::vector<int32_t>{0, 1, 2, 0, 1, 2})},
      limited, request(TargetFamily::class_index, 3));
  EXPECT_EQ(data.size(), 4);
  const Dataset tail = data.slice(1, 4);
  EXPECT_EQ(tail.size(), 3);
  EXPECT_EQ(tail.row(0), 1);
  const std::vector<int64_t> picked = {2, 0};
  const Dataset subset = tail.subset(picked);
  EXPECT_EQ(subset.row(0), 3);
  EXPECT_EQ(subset.row(1), 1);
}

TEST(GatherBatch, WritesScaledFeaturesAndEachEncoding) {
  const Dataset one_hot = classes({2, 0, 1}, TargetFamily::categorical, 3);
  const std::vector<uint32_t> order = {2, 0};
  std::vector<float> features(2 * 4, -1.f), rows(2 * 3, -1.f);
  gather_batch(one_hot, order, features.data(), rows.data());
  EXPECT_EQ(rows, (std::vector<float>{0, 1, 0, 0, 0, 1}));
  EXPECT_FLOAT_EQ(features[0], 8.f / 255.f);  // sample 2's first pixel
  EXPECT_FLOAT_EQ(features[7], 3.f / 255.f);

  const Dataset sparse = classes({2, 0, 1}, TargetFamily::class_index, 3);
  std::vector<int32_t> indices(3, -7);  // one extra slot: nothing written past the batch
  gather_batch(sparse, order, features.data(), indices.data());
  EXPECT_EQ(indices, (std::vector<int32_t>{1, 2, -7}));

  const Dataset values = prepare_dataset(
      {.features = pixels(2),
       .targets = array_of(ElementType::float64, {2}, std::vector<double>{1.5, -2, 3, 4})},
      kSpec, request(TargetFamily::regression, 2));
  std::vector<float> targets(4);
  gather_batch(values, std::vector<uint32_t>{1, 0}, features.data(), targets.data());
  EXPECT_EQ(targets, (std::vector<float>{3, 4, 1.5f, -2}));
}

TEST(GatherBatch, SamplesWithoutTargetsGetZeros) {
  DatasetRequest predicting = request(TargetFamily::categorical, 3);
  predicting.targets_required = false;
  const Dataset data = prepare_dataset({.features = pixels(2)}, kSpec, predicting);
  std::vector<float> features(8), rows(6, -1.f);
  gather_batch(data, std::vector<uint32_t>{0, 1}, features.data(), rows.data());
  EXPECT_EQ(rows, std::vector<float>(6, 0.f));
  expect_input_error(
      [&] {
        prepare_dataset({.features = pixels(2)}, kSpec, request(TargetFamily::categorical, 3));
      },
      {kSpec.where, "no targets"});
}

TEST(IdxSource, ReadsImagesAndLabelsFromFiles) {
  TemporaryDirectory dir;
  write_idx(dir.file("images.idx"),
            IdxArray{.dims = {3, 2, 2}, .data = std::vector<uint8_t>(12, 9)});
  write_idx(dir.file("labels.idx"), IdxArray{.dims = {3}, .data = {2, 0, 1}});
  const DatasetSpec spec{
      .source = IdxSource{.images = dir.file("images.idx"), .labels = dir.file("labels.idx")},
      .where = "cfg.yaml:1:1: data.train"};
  const Dataset data = load_dataset(spec, request(TargetFamily::class_index, 3));
  EXPECT_EQ(data.size(), 3);
  EXPECT_EQ(data.format().encoding, LabelEncoding::index);
  EXPECT_FLOAT_EQ(data.format().scale, 1.f / 255.f);
  EXPECT_EQ(inspect_dataset(spec, {4}).samples, 3);
}

}  // namespace
}  // namespace loom
