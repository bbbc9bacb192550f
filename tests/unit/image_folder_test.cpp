// decode_image, resize_bilinear and the image folder reader on files made here by libpng and
// libjpeg: every colour conversion, every way a file can fail to be an image, the folder's
// classes and their mapping for validation sets, and the model-input checks.

#include "engine/data/image_folder.hpp"

#include <gtest/gtest.h>
#include <omp.h>
#include <sys/stat.h>
#include <zlib.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/core/error.hpp"
#include "engine/data/image_decode.hpp"
#include "tests/support/image_files.hpp"
#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom {
namespace {

namespace fs = std::filesystem;
using testing::expect_input_error;
using testing::read_file_bytes;
using testing::TemporaryDirectory;
using testing::write_file_bytes;
using testing::write_jpeg;
using testing::write_png;

constexpr int64_t kPlenty = int64_t{1} << 30;

DecodedImage decode_file(const std::string& file, int64_t channels) {
  const std::vector<uint8_t> bytes = read_file_bytes(file);
  return decode_image(std::as_bytes(std::span(bytes)), file, channels, kPlenty);
}

TEST(ImageDecode, PngGrayAndRgbExactly) {
  TemporaryDirectory dir;
  write_png(dir.file("g.png"), 2, 3, 1, {0, 1, 2, 253, 254, 255});
  const DecodedImage gray = decode_file(dir.file("g.png"), 1);
  EXPECT_EQ(gray.height, 2);
  EXPECT_EQ(gray.width, 3);
  EXPECT_EQ(gray.pixels, (std::vector<uint8_t>{0, 1, 2, 253, 254, 255}));
  write_png(dir.file("c.png"), 1, 2, 3, {10, 20, 30, 40, 50, 60});
  EXPECT_EQ(decode_file(dir.file("c.png"), 3).pixels,
            (std::vector<uint8_t>{10, 20, 30, 40, 50, 60}));
}

TEST(ImageDecode, ConvertsChannelsAsPil) {
  TemporaryDirectory dir;
  write_png(dir.file("g.png"), 1, 2, 1, {7, 200});
  EXPECT_EQ(decode_file(dir.file("g.png"), 3).pixels,
            (std::vector<uint8_t>{7, 7, 7, 200, 200, 200}));
  // PIL's L: (19595 R + 38470 G + 7471 B + 2^15) >> 16.
  write_png(dir.file("c.png"), 1, 4, 3, {255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 100, 200});
  EXPECT_EQ(decode_file(dir.file("c.png"), 1).pixels, (std::vector<uint8_t>{76, 150, 29, 84}));
}

TEST(ImageDecode, DropsAlphaReducesSixteenBitsExpandsPalettes) {
  TemporaryDirectory dir;
  write_png(dir.file("a.png"), 1, 2, 4, {1, 2, 3, 0, 4, 5, 6, 128});
  EXPECT_EQ(decode_file(dir.file("a.png"), 3).pixels, (std::vector<uint8_t>{1, 2, 3, 4, 5, 6}));
  testing::write_png16(dir.file("16.png"), 1, 3, {0x0000, 0xab12, 0xffff});
  EXPECT_EQ(decode_file(dir.file("16.png"), 1).pixels, (std::vector<uint8_t>{0x00, 0xab, 0xff}));
  testing::write_png_palette(dir.file("p.png"), 1, 3, {1, 0, 1}, {9, 8, 7, 100, 110, 120});
  EXPECT_EQ(decode_file(dir.file("p.png"), 3).pixels,
            (std::vector<uint8_t>{100, 110, 120, 9, 8, 7, 100, 110, 120}));
}

TEST(ImageDecode, JpegGrayAndRgbWithinCompressionError) {
  TemporaryDirectory dir;
  write_jpeg(dir.file("g.jpg"), 8, 8, 1, std::vector<uint8_t>(64, 100));
  const DecodedImage gray = decode_file(dir.file("g.jpg"), 1);
  ASSERT_EQ(gray.pixels.size(), 64u);
  for (uint8_t value : gray.pixels) EXPECT_NEAR(value, 100, 1);
  std::vector<uint8_t> rgb;
  for (int i = 0; i < 64; ++i) rgb.insert(rgb.end(), {200, 40, 90});
  write_jpeg(dir.file("c.jpeg"), 8, 8, 3, rgb);
  const DecodedImage color = decode_file(dir.file("c.jpeg"), 3);
  ASSERT_EQ(color.channels, 3);
  for (size_t i = 0; i < color.pixels.size(); ++i) EXPECT_NEAR(color.pixels[i], rgb[i], 3);
}

TEST(ImageDecode, RefusesTruncatedAndMisnamedFiles) {
  TemporaryDirectory dir;
  std::vector<uint8_t> pixels(32 * 32 * 3);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = uint8_t(i * 37);
  write_png(dir.file("t.png"), 32, 32, 3, pixels);
  write_jpeg(dir.file("t.jpg"), 32, 32, 3, pixels);
  for (const std::string name : {"t.png", "t.jpg"}) {
    std::vector<uint8_t> bytes = read_file_bytes(dir.file(name));
    bytes.resize(bytes.size() / 2);
    write_file_bytes(dir.file(name), bytes);
    expect_input_error([&] { decode_file(dir.file(name), 3); },
                       {dir.file(name), "not a decodable PNG/JPEG ("});
  }
  std::ofstream(dir.file("text.png")) << "hello, I am not a picture\n";
  expect_input_error([&] { decode_file(dir.file("text.png"), 3); },
                     {"text.png: not a decodable PNG/JPEG (neither a PNG nor a JPEG signature)"});
  write_file_bytes(dir.file("empty.jpg"), {});
  expect_input_error([&] { decode_file(dir.file("empty.jpg"), 1); }, {"not a decodable"});
}

TEST(ImageDecode, AcceptsAJpegWithExtraneousBytesBeforeAMarker) {
  // libjpeg warns ("Corrupt JPEG data: 3 extraneous bytes before marker 0xd9") and decodes
  // the whole image, as TensorFlow does.
  TemporaryDirectory dir;
  write_jpeg(dir.file("x.jpg"), 8, 8, 1, std::vector<uint8_t>(64, 90));
  std::vector<uint8_t> bytes = read_file_bytes(dir.file("x.jpg"));
  ASSERT_GE(bytes.size(), 2u);
  bytes.insert(bytes.end() - 2, {1, 2, 3});
  write_file_bytes(dir.file("x.jpg"), bytes);
  for (uint8_t value : decode_file(dir.file("x.jpg"), 1).pixels) EXPECT_NEAR(value, 90, 1);
}

void put_u32(std::vector<uint8_t>& bytes, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(uint8_t(value >> shift));
}

TEST(ImageDecode, RefusesHugeDimensionsFromTheHeader) {
  TemporaryDirectory dir;
  // A PNG signature and an IHDR of 100000 × 100000 8-bit gray, with a correct CRC.
  std::vector<uint8_t> png{0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  std::vector<uint8_t> chunk{'I', 'H', 'D', 'R'};
  put_u32(chunk, 100000);
  put_u32(chunk, 100000);
  chunk.insert(chunk.end(), {8, 0, 0, 0, 0});
  put_u32(png, 13);
  png.insert(png.end(), chunk.begin(), chunk.end());
  put_u32(png, uint32_t(crc32(0, chunk.data(), uInt(chunk.size()))));
  write_file_bytes(dir.file("huge.png"), png);
  expect_input_error([&] { decode_file(dir.file("huge.png"), 1); },
                     {"huge.png: not a decodable PNG/JPEG (", "exceeds user limit"});
  // A real JPEG whose frame header is patched to 60000 × 60000.
  write_jpeg(dir.file("huge.jpg"), 8, 8, 1, std::vector<uint8_t>(64, 1));
  std::vector<uint8_t> jpeg = read_file_bytes(dir.file("huge.jpg"));
  for (size_t i = 0; i + 8 < jpeg.size(); ++i) {
    if (jpeg[i] == 0xff && jpeg[i + 1] == 0xc0) {
      jpeg[i + 5] = jpeg[i + 7] = 0xea;  // 0xea60 = 60000
      jpeg[i + 6] = jpeg[i + 8] = 0x60;
      break;
    }
  }
  write_file_bytes(dir.file("huge.jpg"), jpeg);
  expect_input_error([&] { decode_file(dir.file("huge.jpg"), 1); },
                     {"huge.jpg: not a decodable PNG/JPEG (60000×60000 pixels: each side must be "
                      "1 to 16384)"});
  // Within the side limit but beyond the memory this decode may take.
  expect_input_error(
      [&] {
        std::vector<uint8_t> small(64, 1);
        write_jpeg(dir.file("small.jpg"), 8, 8, 1, small);
        const std::vector<uint8_t> data = read_file_bytes(dir.file("small.jpg"));
        decode_image(std::as_bytes(std::span(data)), "small.jpg", 1, 100);
      },
      {"small.jpg: not a decodable PNG/JPEG (8×8 pixels need 128 bytes, more than the 100 bytes "
       "available)"});
}

DecodedImage gray_image(int64_t height, int64_t width, std::vector<uint8_t> pixels) {
  return {height, width, 1, std::move(pixels)};
}

TEST(ImageResize, BilinearWithHalfPixelCentersAsTensorFlow) {
  // Upscaling 1×2 to 1×4: sources at −0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
  std::vector<uint8_t> out(4);
  resize_bilinear(gray_image(1, 2, {0, 100}), 1, 4, out.data());
  EXPECT_EQ(out, (std::vector<uint8_t>{0, 25, 75, 100}));
  // Downscaling 1×4 to 1×2: sources at 0.5 and 2.5.
  std::vector<uint8_t> half(2);
  resize_bilinear(gray_image(1, 4, {0, 40, 80, 120}), 1, 2, half.data());
  EXPECT_EQ(half, (std::vector<uint8_t>{20, 100}));
  // 2×2 to 3×3: rows and columns at −1/6, 0.5, 7/6; the centre averages all four.
  std::vector<uint8_t> grid(9);
  resize_bilinear(gray_image(2, 2, {0, 60, 120, 180}), 3, 3, grid.data());
  EXPECT_EQ(grid, (std::vector<uint8_t>{0, 30, 60, 60, 90, 120, 120, 150, 180}));
}

// Writes a class folder's images: n small PNGs of `value`.
void add_images(const fs::path& folder, int count, uint8_t value, bool jpeg = false) {
  fs::create_directories(folder);
  for (int i = 0; i < count; ++i) {
    const std::string name = (folder / ("img" + std::to_string(i))).string();
    if (jpeg) {
      write_jpeg(name + ".JPG", 4, 4, 1, std::vector<uint8_t>(16, value));
    } else {
      write_png(name + ".png", 4, 4, 1, std::vector<uint8_t>(16, value));
    }
  }
}

SourceContext context_for(Shape input, const std::vector<std::string>* classes = nullptr) {
  return {.model_input = std::move(input), .classes = classes, .where = "data.train"};
}

const ImageFolderSource::Color kGray = ImageFolderSource::Color::grayscale;

std::vector<int32_t> labels_of(const SourceData& data) {
  std::vector<int32_t> labels;
  for (int64_t i = 0; i < data.targets->count(); ++i)
    labels.push_back(int32_t(data.targets->value(i, 0)));
  return labels;
}

TEST(ImageFolder, ClassesAreSortedSubfoldersAndOtherFilesAreIgnored) {
  TemporaryDirectory dir;
  const fs::path root = dir.path();
  add_images(root / "zebra", 2, 200);
  add_images(root / "cat", 1, 10, true);
  add_images(root / "cat" / "nested", 1, 20);
  std::ofstream(root / "cat" / "notes.txt") << "not an image";
  std::ofstream(root / "README") << "not a class";
  fs::create_directory_symlink(root / "cat", root / "cat" / "loop");  // not followed
  ASSERT_EQ(mkfifo((root / "zebra" / "pipe.png").c_str(), 0600), 0);  // skipped
  const SourceData data = read_image_folder({root, kGray}, context_for({2, 2, 1}));
  EXPECT_EQ(data.class_names, (std::vector<std::string>{"cat", "zebra"}));
  EXPECT_EQ(labels_of(data), (std::vector<int32_t>{0, 0, 1, 1}));
  ASSERT_EQ(data.features.count(), 4);
  EXPECT_EQ(data.features.type(), ElementType::uint8);
  EXPECT_EQ(data.features.sample_shape(), (Shape{2, 2, 1}));
  EXPECT_EQ(data.targets->type(), ElementType::int32);
  EXPECT_NEAR(data.features.value(0, 0), 10, 1);  // cat/img0.JPG, then cat/nested/img0.png
  EXPECT_EQ(data.features.value(1, 3), 20);
  EXPECT_EQ(data.features.value(3, 0), 200);
  const SourceSize size = inspect_image_folder({root, kGray}, {2, 2, 1});
  EXPECT_EQ(size.samples, 4);
  EXPECT_EQ(size.bytes, 4 * (4 + 4));
}

TEST(ImageFolder, ALimitDecodesOnlyTheImagesTheSetKeeps) {
  TemporaryDirectory dir;
  const fs::path root = dir.path();
  add_images(root / "a", 2, 10);
  add_images(root / "b", 2, 20);
  std::ofstream(root / "b" / "img9.png") << "not decodable";  // past the limit: never read
  SourceContext context = context_for({2, 2, 1});
  context.limit = 3;
  const SourceData data = read_image_folder({root, kGray}, context);
  EXPECT_EQ(data.features.count(), 3);
  EXPECT_EQ(labels_of(data), (std::vector<int32_t>{0, 0, 1}));
  EXPECT_EQ(data.class_names, (std::vector<std::string>{"a", "b"}));
}

TEST(ImageFolder, ValidationClassesMapToTheTrainingIndices) {
  TemporaryDirectory dir;
  add_images(fs::path(dir.path()) / "dog", 2, 50);
  const std::vector<std::string> training{"cat", "dog", "zebra"};
  const SourceData data = read_image_folder({dir.path(), kGray}, context_for({4, 4, 1}, &training));
  EXPECT_EQ(labels_of(data), (std::vector<int32_t>{1, 1}));
  EXPECT_EQ(data.class_names, training);
  add_images(fs::path(dir.path()) / "emu", 1, 50);
  expect_input_error(
      [&] {
        read_image_folder({dir.path(), kGray}, context_for({4, 4, 1}, &training));
      },
      {"emu: class 'emu' is not one of the training set's classes (known: cat, dog, zebra)"});
}

TEST(ImageFolder, RefusesEmptyFoldersAndBadModelInputs) {
  TemporaryDirectory dir;
  const fs::path root = dir.path();
  expect_input_error(
      [&] {
        read_image_folder({root, kGray}, context_for({4, 4, 1}));
      },
      {"no class subfolders"});
  expect_input_error(
      [&] {
        read_image_folder({root / "nope", kGray}, context_for({4, 4, 1}));
      },
      {"data.train: ", "nope: not found"});
  add_images(root / "a", 1, 1);
  fs::create_directory(root / "b");
  std::ofstream(root / "b" / "x.txt") << "";
  expect_input_error(
      [&] {
        read_image_folder({root, kGray}, context_for({4, 4, 1}));
      },
      {"b: no .png, .jpg or .jpeg images in class 'b'"});
  fs::remove_all(root / "b");
  expect_input_error(
      [&] {
        read_image_folder({root, kGray}, context_for({16}));
      },
      {"data.train: images need a model input of [height, width, channels]", "not [16]"});
  expect_input_error(
      [&] {
        read_image_folder({root}, context_for({4, 4, 1}));
      },
      {"color: rgb gives 3 channels but the model input [4, 4, 1] has 1: write "
       "color: grayscale or change the input's last dimension to 3"});
  std::ofstream(root / "a" / "broken.png") << "not a png";
  expect_input_error(
      [&] {
        read_image_folder({root, kGray}, context_for({4, 4, 1}));
      },
      {"broken.png: not a decodable PNG/JPEG"});
}

TEST(ImageFolder, SameResultWhateverTheThreadCount) {
  TemporaryDirectory dir;
  for (int c = 0; c < 3; ++c) {
    const fs::path folder = fs::path(dir.path()) / ("c" + std::to_string(c));
    fs::create_directories(folder);
    for (int i = 0; i < 10; ++i) {
      std::vector<uint8_t> pixels(7 * 5 * 3);
      for (size_t k = 0; k < pixels.size(); ++k) pixels[k] = uint8_t(k * (i + 3) + c);
      write_png((folder / (std::to_string(i) + ".png")).string(), 7, 5, 3, pixels);
    }
  }
  omp_set_num_threads(1);
  const SourceData one = read_image_folder({dir.path()}, context_for({6, 6, 3}));
  omp_set_num_threads(2);
  const SourceData two = read_image_folder({dir.path()}, context_for({6, 6, 3}));
  ASSERT_EQ(one.features.bytes(), two.features.bytes());
  for (int64_t i = 0; i < one.features.count(); ++i) {
    EXPECT_TRUE(std::ranges::equal(one.features.sample(i), two.features.sample(i))) << i;
  }
}

TEST(ImagesToPredict, OneFileOrAFlatFolder) {
  TemporaryDirectory dir;
  const fs::path root = dir.path();
  write_png((root / "b.png").string(), 2, 2, 1, {9, 9, 9, 9});
  write_png((root / "a.png").string(), 2, 2, 3, std::vector<uint8_t>(12, 30));
  add_images(root / "sub", 1, 1);  // subfolders are not read
  const SourceData folder = read_images_to_predict(root, context_for({2, 2, 1}));
  EXPECT_EQ(folder.features.count(), 2);
  EXPECT_FALSE(folder.targets.has_value());
  EXPECT_EQ(folder.features.value(0, 0), 30);  // a.png first, converted to gray
  EXPECT_EQ(folder.features.value(1, 0), 9);
  const SourceData file = read_images_to_predict(root / "b.png", context_for({2, 2, 3}));
  EXPECT_EQ(file.features.count(), 1);
  EXPECT_EQ(file.features.sample_shape(), (Shape{2, 2, 3}));
  expect_input_error(
      [&] {
        read_images_to_predict(root / "sub" / "x", context_for({2, 2, 1}));
      },
      {"x"});
}

}  // namespace
}  // namespace loom
