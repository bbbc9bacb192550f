// Training from an image folder, end to end: two classes of synthetic 16 × 16 images
// (stripes and blobs), half PNG and half JPEG, a small convnet, then `trainer predict
// --input` on a folder of new images, named by their class.

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/image_files.hpp"
#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

namespace fs = std::filesystem;
constexpr int kSide = 16;

// Stripes of period 4 (horizontal or vertical, any phase) or one bright disc anywhere, with
// noise: told apart by shape, not by brightness alone.
std::vector<uint8_t> synthetic_image(bool stripes, std::mt19937& random) {
  std::uniform_int_distribution<int> noise(0, 40), phase(0, 3), centre(4, 11), radius(2, 4);
  const bool vertical = random() % 2 == 0;
  const int offset = phase(random), cy = centre(random), cx = centre(random), r = radius(random);
  std::vector<uint8_t> pixels(kSide * kSide);
  for (int y = 0; y < kSide; ++y) {
    for (int x = 0; x < kSide; ++x) {
      bool bright;
      if (stripes) {
        bright = ((vertical ? x : y) + offset) % 4 < 2;
      } else {
        bright = (y - cy) * (y - cy) + (x - cx) * (x - cx) <= r * r;
      }
      pixels[size_t(y * kSide + x)] = uint8_t((bright ? 200 : 20) + noise(random));
    }
  }
  return pixels;
}

// `count` images per class into folder/stripes and folder/blobs (or flat, named by class).
void write_images(const fs::path& folder, int count, bool flat, std::mt19937& random) {
  for (const bool stripes : {true, false}) {
    const std::string name = stripes ? "stripes" : "blobs";
    const fs::path target = flat ? folder : folder / name;
    fs::create_directories(target);
    for (int i = 0; i < count; ++i) {
      const std::string file = (target / (name + "_" + std::to_string(i))).string();
      const std::vector<uint8_t> pixels = synthetic_image(stripes, random);
      if (i % 2 == 0) {
        write_png(file + ".png", kSide, kSide, 1, pixels);
      } else {
        write_jpeg(file + ".jpg", kSide, kSide, 1, pixels, 90);
      }
    }
  }
}

std::string config_text(const std::string& root) {
  return "name: stripes_and_blobs\nseed: 7\ndata:\n  root: " + root +
         "\n"
         "  train: {format: image_folder, directory: train, color: grayscale}\n"
         "  validation: {format: image_folder, directory: validation, color: grayscale}\n"
         "  augmentation: {flip: horizontal_and_vertical, rotation: 0.05, zoom: 0.1}\n"
         "model:\n"
         "  input: [16, 16, 1]\n"
         "  layers:\n"
         "    - {conv2d: 8, kernel_size: 3, activation: relu}\n"
         "    - {max_pool2d: 2}\n"
         "    - {conv2d: 16, kernel_size: 3, activation: relu}\n"
         "    - {global_avg_pool2d: {}}\n"
         "    - {dense: 2, activation: softmax}\n"
         "trainer:\n"
         "  optimizer: {adam: {learning_rate: 0.01}}\n"
         "  loss: sparse_categorical_crossentropy\n"
         "  metrics: [accuracy]\n"
         "  batch_size: 16\n"
         "  epochs: 5\n";
}

// The last row's value in column `name` of history.csv.
double last_value(const std::string& history_csv, const std::string& name) {
  std::ifstream history(history_csv);
  std::string header, row, last;
  std::getline(history, header);
  while (std::getline(history, row)) {
    if (!row.empty()) last = row;
  }
  std::stringstream names(header), values(last);
  std::string column, value;
  while (std::getline(names, column, ',') && std::getline(values, value, ',')) {
    if (column == name) return std::stod(value);
  }
  ADD_FAILURE() << "no column " << name << " in " << header;
  return 0;
}

TEST(ImageFolderTraining, LearnsStripesFromBlobsAndPredictsAFolder) {
  TemporaryDirectory dir;
  std::mt19937 random(3);
  write_images(fs::path(dir.path()) / "train", 120, false, random);
  write_images(fs::path(dir.path()) / "validation", 40, false, random);
  write_images(fs::path(dir.path()) / "new", 10, true, random);
  const std::string config = dir.file("images.yaml");
  std::ofstream(config) << config_text(dir.path());

  const CommandResult trained =
      run_command(trainer_path() + " train " + config + " --out " + dir.file("run"));
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  EXPECT_GE(last_value(dir.file("run/history.csv"), "val_accuracy"), 0.95);

  const CommandResult predicted =
      run_command(trainer_path() + " predict " + config + " --weights " +
                  dir.file("run/last.safetensors") + " --input " + dir.file("new"));
  ASSERT_EQ(predicted.exit_code, 0) << predicted.err;
  // Sorted by name: blobs_0 .. blobs_9, then stripes_0 .. stripes_9.
  std::stringstream lines(predicted.out);
  std::string line;
  std::getline(lines, line);
  EXPECT_EQ(line, "index,p0,p1,predicted");
  int right = 0, rows = 0;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    const std::string expected = rows < 10 ? "blobs" : "stripes";
    right += line.ends_with("," + expected);
    ++rows;
  }
  EXPECT_EQ(rows, 20);
  EXPECT_GE(right, 18) << predicted.out;
}

TEST(ImageFolderTraining, AnImageThatDoesNotDecodeIsOneErrorLine) {
  TemporaryDirectory dir;
  std::mt19937 random(5);
  write_images(fs::path(dir.path()) / "train", 4, false, random);
  write_images(fs::path(dir.path()) / "validation", 2, false, random);
  std::ofstream(dir.file("train/blobs/broken.png")) << "not a png";
  const std::string config = dir.file("images.yaml");
  std::ofstream(config) << config_text(dir.path());
  const CommandResult result =
      run_command(trainer_path() + " train " + config + " --out " + dir.file("run"));
  EXPECT_EQ(result.exit_code, 2) << result.err;
  EXPECT_NE(result.err.find("broken.png: not a decodable PNG/JPEG"), std::string::npos)
      << result.err;
  EXPECT_FALSE(fs::exists(dir.file("run")));
}

}  // namespace
}  // namespace loom::testing
