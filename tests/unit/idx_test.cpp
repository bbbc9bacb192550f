// read_idx/write_idx and the datasets built on them, on small files made here: the format's
// happy path (plain and gzipped), every way a file can be damaged, and the checks that tie
// the data to the model (counts, label range, sample size), with labels or without.

#include "engine/data/idx.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <string>
#include <vector>

#include "engine/core/error.hpp"
#include "engine/data/dataset.hpp"
#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom {
namespace {

namespace fs = std::filesystem;
using testing::expect_input_error;
using testing::TemporaryDirectory;

void write_bytes(const fs::path& file, const std::vector<uint8_t>& bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << file;
}

std::vector<uint8_t> read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Written with zlib itself (as gzip(1) would), so the reader is tested against a real gzip
// stream rather than against its own writer.
void gzip_file(const fs::path& source, const fs::path& target) {
  const std::vector<uint8_t> bytes = read_bytes(source);
  gzFile out = gzopen(target.c_str(), "wb");
  ASSERT_NE(out, nullptr) << target;
  ASSERT_EQ(gzwrite(out, bytes.data(), static_cast<unsigned>(bytes.size())),
            static_cast<int>(bytes.size()));
  ASSERT_EQ(gzclose(out), Z_OK);
}

// Bytes that do not compress, so a gzip stream of them is long enough to cut in half
// through the deflate data rather than through the gzip header.
std::vector<uint8_t> noise(size_t count, uint32_t seed = 12345) {
  std::vector<uint8_t> bytes(count);
  for (uint8_t& byte : bytes) {
    seed = seed * 1664525u + 1013904223u;
    byte = static_cast<uint8_t>(seed >> 24);
  }
  return bytes;
}

IdxArray sequence_array(std::vector<int64_t> dims) {
  IdxArray array{.dims = std::move(dims), .data = {}};
  int64_t count = 1;
  for (const int64_t dim : array.dims) count *= dim;
  for (int64_t i = 0; i < count; ++i) array.data.push_back(static_cast<uint8_t>(i * 7 % 256));
  return array;
}

// ---- read_idx / write_idx ------------------------------------------------------------------

TEST(Idx, RoundTripsA3DArray) {
  TemporaryDirectory dir;
  const fs::path file = dir.file("images.idx");
  const IdxArray written = sequence_array({2, 3, 4});
  write_idx(file, written);
  // 4 bytes of magic, 4 per dimension, then the payload: nothing else.
  EXPECT_EQ(fs::file_size(file), 4u + 3u * 4u + 24u);
  const IdxArray read = read_idx(file);
  EXPECT_EQ(read.dims, written.dims);
  EXPECT_EQ(read.data, written.data);
}

TEST(Idx, ReadsAGzippedFileIdentically) {
  TemporaryDirectory dir;
  const IdxArray written = sequence_array({5, 6, 7});
  write_idx(dir.file("images.idx"), written);
  gzip_file(dir.file("images.idx"), dir.file("images.idx.gz"));
  ASSERT_NE(read_bytes(dir.file("images.idx.gz")), read_bytes(dir.file("images.idx")));

  const IdxArray read = read_idx(dir.file("images.idx.gz"));
  EXPECT_EQ(read.dims, written.dims);
  EXPECT_EQ(read.data, written.data);

  // Compression is detected from the content, so the name does not matter.
  fs::copy_file(dir.file("images.idx.gz"), dir.file("compressed.idx"));
  EXPECT_EQ(read_idx(dir.file("compressed.idx")).data, written.data);
}

TEST(Idx, TruncatedPayloadIsAnError) {
  TemporaryDirectory dir;
  const std::string file = dir.file("images.idx");
  write_idx(file, sequence_array({2, 3, 4}));
  fs::resize_file(file, fs::file_size(file) - 5);
  expect_input_error([&] { read_idx(file); }, {file, "truncated", "24", "19"});
}

TEST(Idx, TruncatedHeaderIsAnError) {
  TemporaryDirectory dir;
  const std::string file = dir.file("images.idx");
  // Rank 3 needs 4 + 3·4 = 16 header bytes; the file stops after the first dimension.
  write_bytes(file, {0x00, 0x00, 0x08, 0x03, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00});
  expect_input_error([&] { read_idx(file); }, {file, "truncated", "header"});
}

TEST(Idx, FileShorterThanTheMagicNumberIsAnError) {
  TemporaryDirectory dir;
  const std::string file = dir.file("images.idx");
  write_bytes(file, {0x00, 0x00});
  expect_input_error([&] { read_idx(file); }, {file, "too short"});
}

TEST(Idx, BadMagicNumberIsAnError) {
  TemporaryDirectory dir;
  const std::string file = dir.file("images.idx");
  write_bytes(file, {0x12, 0x34, 0x08, 0x01, 0x00, 0x00, 0x00, 0x01, 0x2a});
  expect_input_error([&] { read_idx(file); }, {file, "magic", "0x12340801"});
}

TEST(Idx, UnsupportedElementTypeIsAnError) {
  TemporaryDirectory dir;
  const std::string file = dir.file("images.idx");
  // 0x0D is idx's float type: a valid idx file, just not one of unsigned bytes.
  write_bytes(file, {0x00, 0x00, 0x0D, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x80, 0x3f});
  // The type should read as the byte it is, in the same 0x.. notation as the expected one.
  expect_input_error([&] { read_idx(file); }, {file, "element type 0x0d", "0x08"});
}

TEST(Idx, TrailingBytesAreAnError) {
  TemporaryDirectory dir;
  const std::string file = dir.file("images.idx");
  write_idx(file, sequence_array({2, 3}));
  std::vector<uint8_t> bytes = read_bytes(file);
  bytes.insert(bytes.end(), {1, 2, 3});
  write_bytes(file, bytes);
  expect_input_error([&] { read_idx(file); }, {file, "3 unexpected bytes"});
}

TEST(Idx, TruncatedGzipIsAnError) {
  TemporaryDirectory dir;
  IdxArray array{.dims = {64, 1024}, .data = noise(64 * 1024)};
  write_idx(dir.file("images.idx"), array);
  gzip_file(dir.file("images.idx"), dir.file("images.idx.gz"));
  std::vector<uint8_t> bytes = read_bytes(dir.file("images.idx.gz"));
  ASSERT_GT(bytes.size(), 1000u);
  bytes.resize(bytes.size() / 2);
  const std::string file = dir.file("cut.idx.gz");
  write_bytes(file, bytes);
  expect_input_error([&] { read_idx(file); }, {file, "truncated gzip"});
}

// The payload is complete but the gzip trailer (CRC-32 and length) is cut off: the data
// cannot be verified, so it must not be accepted.
TEST(Idx, GzipWithoutItsTrailerIsAnError) {
  TemporaryDirectory dir;
  write_idx(dir.file("images.idx"), sequence_array({3, 5}));
  gzip_file(dir.file("images.idx"), dir.file("images.idx.gz"));
  std::vector<uint8_t> bytes = read_bytes(dir.file("images.idx.gz"));
  bytes.resize(bytes.size() - 8);
  const std::string file = dir.file("no_trailer.idx.gz");
  write_bytes(file, bytes);
  expect_input_error([&] { read_idx(file); }, {file, "truncated gzip"});
}

TEST(Idx, MissingFileIsAnError) {
  TemporaryDirectory dir;
  const std::string file = dir.file("absent.idx");
  expect_input_error([&] { read_idx(file); }, {file, "not found"});
}

// ---- load_dataset --------------------------------------------------------------------------

// Writes `count` 4x4 images (pixel i of sample s is (s·16 + i)·7 mod 256, so samples differ)
// and the given labels.
DatasetSpec write_dataset(const TemporaryDirectory& dir, int64_t count,
                          const std::vector<uint8_t>& labels) {
  write_idx(dir.file("images.idx"), sequence_array({count, 4, 4}));
  IdxArray label_array{.dims = {static_cast<int64_t>(labels.size())}, .data = labels};
  write_idx(dir.file("labels.idx"), label_array);
  DatasetSpec spec;
  spec.images = dir.file("images.idx");
  spec.labels = dir.file("labels.idx");
  spec.where = "test.yaml:3:10: data.train";
  return spec;
}

TEST(Dataset, LoadsImagesAndLabels) {
  TemporaryDirectory dir;
  const DatasetSpec spec = write_dataset(dir, 5, {3, 1, 4, 1, 5});
  // [4, 4] images feed a flat [16] input: only the element count has to agree.
  const Dataset data = load_dataset(spec, {16}, 10);
  EXPECT_EQ(data.size(), 5);
  EXPECT_EQ(data.sample_shape(), (Shape{4, 4}));
  EXPECT_EQ(data.sample_size(), 16);
  EXPECT_EQ(std::vector<uint8_t>(data.labels().begin(), data.labels().end()),
            (std::vector<uint8_t>{3, 1, 4, 1, 5}));
  EXPECT_EQ(data.image(2)[0], static_cast<uint8_t>(32 * 7 % 256));
  EXPECT_EQ(data.image(4)[15], static_cast<uint8_t>(79 * 7 % 256));
}

TEST(Dataset, CountMismatchBetweenImagesAndLabelsIsAnError) {
  TemporaryDirectory dir;
  const DatasetSpec spec = write_dataset(dir, 5, {0, 1, 2, 3});
  expect_input_error(
      [&] { load_dataset(spec, {16}, 10); },
      {spec.where, "5 images", "4 labels", spec.images.string(), spec.labels.string()});
}

TEST(Dataset, LabelOutOfRangeIsAnError) {
  TemporaryDirectory dir;
  const DatasetSpec spec = write_dataset(dir, 3, {0, 9, 10});
  expect_input_error([&] { load_dataset(spec, {16}, 10); },
                     {spec.labels.string(), "label 10 of sample 2", "10 classes"});
}

TEST(Dataset, SampleSizeMustMatchTheModelInput) {
  TemporaryDirectory dir;
  const DatasetSpec spec = write_dataset(dir, 3, {0, 1, 2});
  expect_input_error([&] { load_dataset(spec, {784}, 10); },
                     {spec.where, "[4, 4]", "16 values", "[784]"});
}

TEST(Dataset, LabelsMustBeOneDimensional) {
  TemporaryDirectory dir;
  DatasetSpec spec = write_dataset(dir, 3, {0, 1, 2});
  write_idx(dir.file("labels2d.idx"), IdxArray{.dims = {3, 1}, .data = {0, 1, 2}});
  spec.labels = dir.file("labels2d.idx");
  expect_input_error([&] { load_dataset(spec, {16}, 10); }, {spec.labels.string(), "rank 2"});
}

TEST(Dataset, LimitKeepsTheFirstSamples) {
  TemporaryDirectory dir;
  DatasetSpec spec = write_dataset(dir, 5, {3, 1, 4, 1, 5});
  const Dataset all = load_dataset(spec, {16}, 10);

  spec.limit = 3;
  const Dataset first = load_dataset(spec, {16}, 10);
  EXPECT_EQ(first.size(), 3);
  EXPECT_EQ(std::vector<uint8_t>(first.labels().begin(), first.labels().end()),
            (std::vector<uint8_t>{3, 1, 4}));
  for (int64_t i = 0; i < first.size(); ++i) {
    EXPECT_TRUE(std::ranges::equal(first.image(i), all.image(i))) << "sample " << i;
  }

  // A limit beyond the file is not an error: there are simply fewer samples.
  spec.limit = 50;
  EXPECT_EQ(load_dataset(spec, {16}, 10).size(), 5);
}

// ---- load_unlabelled_images ----------------------------------------------------------------

TEST(UnlabelledImages, LoadsImagesWithEveryLabelZero) {
  TemporaryDirectory dir;
  write_idx(dir.file("images.idx"), sequence_array({3, 4, 4}));
  // [4, 4] images feed a flat [16] input: only the element count has to agree.
  const Dataset data = load_unlabelled_images(dir.file("images.idx"), {16});
  EXPECT_EQ(data.size(), 3);
  EXPECT_EQ(data.sample_shape(), (Shape{4, 4}));
  EXPECT_EQ(std::vector<uint8_t>(data.labels().begin(), data.labels().end()),
            (std::vector<uint8_t>{0, 0, 0}));
  EXPECT_EQ(data.image(2)[0], static_cast<uint8_t>(32 * 7 % 256));
}

TEST(UnlabelledImages, SampleSizeMustMatchTheModelInput) {
  TemporaryDirectory dir;
  const std::string file = dir.file("images.idx");
  write_idx(file, sequence_array({3, 4, 4}));
  expect_input_error([&] { load_unlabelled_images(file, {784}); },
                     {file + ": expected images of 784 values each"});
}

TEST(UnlabelledImages, AOneDimensionalFileIsNotImages) {
  TemporaryDirectory dir;
  const std::string file = dir.file("labels.idx");
  write_idx(file, sequence_array({16}));
  expect_input_error([&] { load_unlabelled_images(file, {16}); },
                     {file + ": expected images of 16 values each"});
}

// ---- gather_batch --------------------------------------------------------------------------

TEST(GatherBatch, WritesScaledPixelsAndOneHotRows) {
  TemporaryDirectory dir;
  const DatasetSpec spec = write_dataset(dir, 5, {3, 1, 4, 1, 5});
  const Dataset data = load_dataset(spec, {16}, 6);
  const std::vector<uint32_t> indices = {4, 0, 2};
  constexpr int64_t kClasses = 6;
  // Filled with a marker so a row or a class that is not written shows up.
  std::vector<float> images(3 * 16, -1.f);
  std::vector<float> labels(3 * kClasses, -1.f);
  const float scale = 1.f / 255.f;
  gather_batch(data, indices, scale,
               {images.data(), labels.data(), LabelEncoding::one_hot, kClasses});

  for (size_t b = 0; b < indices.size(); ++b) {
    const auto pixels = data.image(indices[b]);
    for (size_t i = 0; i < 16; ++i) {
      EXPECT_FLOAT_EQ(images[b * 16 + i], float(pixels[i]) * scale)
          << "row " << b << " pixel " << i;
    }
    const uint8_t label = data.labels()[indices[b]];
    for (int64_t c = 0; c < kClasses; ++c) {
      EXPECT_EQ(labels[b * kClasses + size_t(c)], c == label ? 1.f : 0.f)
          << "row " << b << " class " << c;
    }
  }
}

TEST(GatherBatch, WritesClassIndicesAsInt32) {
  TemporaryDirectory dir;
  const DatasetSpec spec = write_dataset(dir, 5, {3, 1, 4, 1, 5});
  const Dataset data = load_dataset(spec, {16}, 6);
  const std::vector<uint32_t> indices = {2, 4, 1, 0};
  std::vector<float> images(indices.size() * 16);
  // One extra slot: nothing may be written past the batch.
  std::vector<int32_t> labels(indices.size() + 1, -7);
  gather_batch(data, indices, 2.f, {images.data(), labels.data(), LabelEncoding::index, 6});
  EXPECT_EQ(labels, (std::vector<int32_t>{4, 5, 1, 3, -7}));
  EXPECT_FLOAT_EQ(images[16], float(data.image(4)[0]) * 2.f);
}

}  // namespace
}  // namespace loom
