// augment_image (one affine map per sample, bilinear, seeded) and data.augmentation in a
// config: identity, exact flips, reproducibility, the rotation's direction and the draw
// order, the fill modes, and the config's ranges and resolved form.

#include "engine/data/augmentation.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "engine/config/read_augmentation.hpp"
#include "engine/core/random.hpp"
#include "tests/support/rejection.hpp"

namespace loom {
namespace {

using testing::expect_input_error;

// A 5 × 5 two-channel image whose every value is distinct.
std::vector<float> ramp(int64_t height = 5, int64_t width = 5, int64_t channels = 2) {
  std::vector<float> image(size_t(height * width * channels));
  for (size_t i = 0; i < image.size(); ++i) image[i] = float(i);
  return image;
}

float at(const std::vector<float>& image, int64_t y, int64_t x, int64_t c, int64_t width = 5,
         int64_t channels = 2) {
  return image[size_t((y * width + x) * channels + c)];
}

TEST(Augmentation, NothingChangesWhenEveryFactorIsZero) {
  AugmentationSpec spec;
  EXPECT_TRUE(is_identity(spec));
  std::vector<float> image = ramp();
  augment_image(spec, 42, image.data(), 5, 5, 2);
  EXPECT_EQ(image, ramp());
}

TEST(Augmentation, AHorizontalFlipIsExact) {
  AugmentationSpec spec{.flip = AugmentationSpec::Flip::horizontal};
  int flipped = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    std::vector<float> image = ramp();
    augment_image(spec, seed, image.data(), 5, 5, 2);
    if (image == ramp()) continue;
    ++flipped;
    for (int64_t y = 0; y < 5; ++y) {
      for (int64_t x = 0; x < 5; ++x) {
        for (int64_t c = 0; c < 2; ++c) EXPECT_EQ(at(image, y, x, c), at(ramp(), y, 4 - x, c));
      }
    }
  }
  EXPECT_GT(flipped, 10);  // about half of the seeds flip
  EXPECT_LT(flipped, 30);
}

TEST(Augmentation, TheSameSeedGivesTheSameResult) {
  AugmentationSpec spec{.flip = AugmentationSpec::Flip::horizontal_and_vertical,
                        .rotation = 0.1,
                        .zoom_height = 0.2,
                        .translation_height = 0.1,
                        .translation_width = 0.1,
                        .crop_height = 0.8,
                        .crop_width = 0.9};
  std::vector<float> first = ramp(), second = ramp(), other = ramp();
  augment_image(spec, 7, first.data(), 5, 5, 2);
  augment_image(spec, 7, second.data(), 5, 5, 2);
  augment_image(spec, 8, other.data(), 5, 5, 2);
  EXPECT_EQ(first, second);
  EXPECT_NE(first, other);
}

// A seed whose rotation draw (the first draw when nothing flips) is within `tolerance` of
// `fraction` of a turn, for a spec whose rotation factor is `factor`.
uint64_t seed_rotating_by(double fraction, double factor, double tolerance) {
  for (uint64_t seed = 0;; ++seed) {
    Random random(seed);
    if (std::abs(random.uniform(-factor, factor) - fraction) < tolerance) return seed;
  }
}

TEST(Augmentation, RotatesCounterClockwiseAboutTheCentre) {
  // A quarter turn counter-clockwise takes the bottom-middle pixel to the right-middle one.
  const AugmentationSpec spec{
      .rotation = 0.25, .fill = AugmentationSpec::Fill::constant, .fill_value = 0};
  std::vector<float> image(25, 0.f);
  image[4 * 5 + 2] = 1.f;
  augment_image(spec, seed_rotating_by(0.25, 0.25, 1e-4), image.data(), 5, 5, 1);
  EXPECT_NEAR(image[2 * 5 + 4], 1.f, 0.01f);
  EXPECT_NEAR(image[4 * 5 + 2], 0.f, 0.01f);
  EXPECT_NEAR(image[2 * 5 + 2], 0.f, 0.01f);
}

TEST(Augmentation, FillModesOutsideTheImage) {
  // A translation of a 1 × 4 row by +2 columns or more: constant fills with fill_value,
  // nearest repeats the edge, reflect mirrors (d c b a | a b c d).
  auto translated = [](AugmentationSpec::Fill fill) {
    const AugmentationSpec spec{.translation_width = 0.75, .fill = fill, .fill_value = -1};
    for (uint64_t seed = 0;; ++seed) {
      Random random(seed);
      random.uniform();  // the height's draw
      if (std::abs(random.uniform(-0.75, 0.75) * 4 - 2) < 1e-3) {
        std::vector<float> row{10, 20, 30, 40};
        augment_image(spec, seed, row.data(), 1, 4, 1);
        return row;
      }
    }
  };
  const auto near = [](const std::vector<float>& got, const std::vector<float>& want) {
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_NEAR(got[i], want[i], 0.05f) << i;
  };
  near(translated(AugmentationSpec::Fill::constant), {-1, -1, 10, 20});
  near(translated(AugmentationSpec::Fill::nearest), {10, 10, 10, 20});
  near(translated(AugmentationSpec::Fill::reflect), {20, 10, 10, 20});
}

TEST(Augmentation, ZoomOutShrinksTheContent) {
  // Scale 1 + 0.5: the output's corner reads 1.5 times as far from the centre.
  const AugmentationSpec spec{.zoom_height = 0.5, .fill = AugmentationSpec::Fill::constant};
  std::vector<float> image = ramp(5, 5, 1);
  for (uint64_t seed = 0;; ++seed) {
    Random random(seed);
    if (std::abs(random.uniform(-0.5, 0.5) - 0.5) < 1e-4) {
      augment_image(spec, seed, image.data(), 5, 5, 1);
      break;
    }
  }
  EXPECT_NEAR(image[2 * 5 + 2], 12.f, 0.01f);         // the centre stays
  EXPECT_NEAR(image[2 * 5 + 3], 12.f + 1.5f, 0.01f);  // one column right reads 1.5 columns
  EXPECT_NEAR(image[0], 0.f, 0.01f);                  // the corner reads outside: fill
}

std::optional<AugmentationSpec> parse(const std::string& text) {
  ConfigNode root = ConfigNode::parse(text, "aug.yaml");
  return read_augmentation(root.at("augmentation"));
}

TEST(ReadAugmentation, ReadsEveryKeyAndWritesItBack) {
  const auto spec = parse(
      "augmentation: {flip: horizontal, rotation: 0.1, zoom: 0.2, translation: [0.1, 0.05],\n"
      "  crop: 0.9, fill_mode: constant, fill_value: 0.5}");
  ASSERT_TRUE(spec);
  EXPECT_EQ(spec->flip, AugmentationSpec::Flip::horizontal);
  EXPECT_EQ(spec->rotation, 0.1);
  EXPECT_EQ(spec->zoom_height, 0.2);
  EXPECT_FALSE(spec->zoom_width_given);
  EXPECT_EQ(spec->translation_width, 0.05);
  EXPECT_EQ(spec->crop_height, 0.9);
  EXPECT_EQ(spec->fill_value, 0.5f);
  YAML::Node written;
  written["augmentation"] = augmentation_yaml(*spec);
  const auto again = parse(YAML::Dump(written));
  ASSERT_TRUE(again);
  EXPECT_EQ(YAML::Dump(augmentation_yaml(*again)), YAML::Dump(augmentation_yaml(*spec)));
  EXPECT_EQ(parse("augmentation: {zoom: [0.1, 0.3]}")->zoom_width, 0.3);
}

TEST(ReadAugmentation, AbsentOrDoingNothingIsNone) {
  EXPECT_FALSE(parse("augmentation: null"));
  EXPECT_FALSE(parse("augmentation: {flip: none, rotation: 0}"));
}

TEST(ReadAugmentation, RefusesValuesOutOfRangeAtTheirPosition) {
  expect_input_error([] { parse("augmentation: {rotation: 0.7}"); },
                     {"aug.yaml:1:26", "expected a number in [0, 0.5], got 0.7"});
  expect_input_error([] { parse("augmentation: {zoom: 1}"); },
                     {"aug.yaml:1:22", "expected a number below 1"});
  expect_input_error([] { parse("augmentation:\n  translation: [0.1, 2]"); },
                     {"aug.yaml:2:22", "got 2"});
  expect_input_error([] { parse("augmentation: {crop: 0}"); }, {"expected fractions above 0"});
  expect_input_error([] { parse("augmentation: {flip: sideways}"); },
                     {"unknown flip 'sideways' (known: none, horizontal, vertical, "
                      "horizontal_and_vertical)"});
  expect_input_error([] { parse("augmentation: {fill_value: 1}"); },
                     {"fill_value needs fill_mode: constant"});
  expect_input_error([] { parse("augmentation: {rotate: 0.1}"); }, {"rotate"});
}

}  // namespace
}  // namespace loom
