// read_idx/write_idx on small files made here: the format's happy path (plain and gzipped)
// and every way a file can be damaged. The data set checks are in dataset_test.cpp.

#include "engine/data/idx.hpp"

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <iterator>
#include <string>
#include <vector>

#include "engine/core/error.hpp"
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
  // 0x0A lies between the types the format defines (0x08, 0x09, 0x0B to 0x0E).
  write_bytes(file, {0x00, 0x00, 0x0A, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x80, 0x3f});
  // The type should read as the byte it is, in the same 0x.. notation as the defined ones.
  expect_input_error([&] { read_idx(file); }, {file, "element type 0x0a", "0x08 uint8", "0x0e"});
}

// The big-endian bytes of `values` (as the idx format stores them).
template <typename T>
std::vector<uint8_t> big_endian_bytes(const std::vector<T>& values) {
  std::vector<uint8_t> bytes;
  for (const T value : values) {
    uint8_t native[sizeof(T)];
    std::memcpy(native, &value, sizeof(T));
    for (size_t i = sizeof(T); i-- > 0;) bytes.push_back(native[i]);
  }
  return bytes;
}

template <typename T>
std::vector<uint8_t> native_bytes(const std::vector<T>& values) {
  std::vector<uint8_t> bytes(values.size() * sizeof(T));
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

// A file written by hand in the format's byte order reads as the values; write_idx writes the
// same bytes back.
template <typename T>
void expect_type_round_trip(uint8_t code, ElementType type, const std::vector<T>& values) {
  TemporaryDirectory dir;
  const std::string file = dir.file("values.idx");
  std::vector<uint8_t> bytes = {0, 0, code, 2, 0, 0, 0, 2, 0, 0, 0, uint8_t(values.size() / 2)};
  const std::vector<uint8_t> payload = big_endian_bytes(values);
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  write_bytes(file, bytes);

  const IdxArray read = read_idx(file);
  EXPECT_EQ(read.type, type) << element_name(type);
  EXPECT_EQ(read.dims, (std::vector<int64_t>{2, int64_t(values.size() / 2)}));
  EXPECT_EQ(read.data, native_bytes(values)) << element_name(type);

  write_idx(dir.file("copy.idx"), read);
  EXPECT_EQ(read_bytes(dir.file("copy.idx")), bytes) << element_name(type);

  const SourceData data =
      read_idx_source({.images = file, .labels = {}}, {.targets_required = false});
  EXPECT_EQ(data.features.type(), type);
  EXPECT_EQ(data.features.count(), 2);
  for (size_t i = 0; i < values.size(); ++i) {
    EXPECT_EQ(
        data.features.value(int64_t(i / (values.size() / 2)), int64_t(i % (values.size() / 2))),
        double(values[i]))
        << element_name(type) << " element " << i;
  }
}

TEST(Idx, EveryElementTypeTheFormatDefinesRoundTrips) {
  expect_type_round_trip<uint8_t>(0x08, ElementType::uint8, {0, 7, 200, 255});
  expect_type_round_trip<int8_t>(0x09, ElementType::int8, {-128, -1, 0, 127});
  expect_type_round_trip<int16_t>(0x0B, ElementType::int16, {-300, 1, 256, 32767});
  expect_type_round_trip<int32_t>(0x0C, ElementType::int32, {-70000, 1, 1 << 24, -1});
  expect_type_round_trip<float>(0x0D, ElementType::float32, {1.5f, -0.25f, 3e-8f, 1e30f});
  expect_type_round_trip<double>(0x0E, ElementType::float64, {1.0 / 3.0, -2.5, 1e-300, 6.0});
}

TEST(Idx, GzippedFloatFilesReadIdentically) {
  TemporaryDirectory dir;
  const std::vector<float> values = {0.5f, -1.25f, 8.f, 1e-3f, 2.f, 3.f};
  write_idx(dir.file("values.idx"),
            IdxArray{.dims = {3, 2}, .data = native_bytes(values), .type = ElementType::float32});
  gzip_file(dir.file("values.idx"), dir.file("values.idx.gz"));
  const IdxArray read = read_idx(dir.file("values.idx.gz"));
  EXPECT_EQ(read.type, ElementType::float32);
  EXPECT_EQ(read.data, native_bytes(values));
  const IdxHeader header = read_idx_header(dir.file("values.idx.gz"));
  EXPECT_EQ(header.bytes, 24);
  EXPECT_EQ(header.type, ElementType::float32);
}

TEST(Idx, TruncatedWideTypesCountBytesNotElements) {
  TemporaryDirectory dir;
  const std::string file = dir.file("values.idx");
  write_idx(
      file,
      IdxArray{.dims = {2, 3}, .data = std::vector<uint8_t>(48, 1), .type = ElementType::float64});
  fs::resize_file(file, fs::file_size(file) - 1);
  expect_input_error([&] { read_idx(file); }, {file, "truncated", "48", "47"});
}

TEST(Idx, WriteRefusesTypesTheFormatLacks) {
  TemporaryDirectory dir;
  EXPECT_THROW(write_idx(dir.file("x.idx"),
                         IdxArray{.dims = {1}, .data = {0, 0}, .type = ElementType::float16}),
               RuntimeError);
}

// ---- read_idx_source -------------------------------------------------------------------------

TEST(IdxSource, ReadsSamplesAndTargetsInTheirTypes) {
  TemporaryDirectory dir;
  write_idx(dir.file("x.idx"), IdxArray{.dims = {3, 2},
                                        .data = native_bytes(std::vector<float>(6, 2.5f)),
                                        .type = ElementType::float32});
  write_idx(dir.file("y.idx"), IdxArray{.dims = {3},
                                        .data = native_bytes(std::vector<int32_t>{-1, 0, 9}),
                                        .type = ElementType::int32});
  const IdxSource source{.images = dir.file("x.idx"), .labels = dir.file("y.idx")};
  const SourceData data = read_idx_source(source, {.where = "t.yaml:2:3"});
  EXPECT_EQ(data.features.sample_shape(), (Shape{2}));
  EXPECT_EQ(data.features.value(2, 1), 2.5);
  ASSERT_TRUE(data.targets);
  EXPECT_EQ(data.targets->sample_shape(), Shape{1});  // one value per sample
  EXPECT_EQ(data.targets->value(0, 0), -1.0);
  EXPECT_EQ(data.targets->value(2, 0), 9.0);

  const SourceSize size = inspect_idx_source(source);
  EXPECT_EQ(size.samples, 3);
  EXPECT_EQ(size.bytes, 24 + 12);
}

TEST(IdxSource, LabelsAreOptionalOnlyForPrediction) {
  TemporaryDirectory dir;
  write_idx(dir.file("x.idx"), sequence_array({3, 2}));
  const IdxSource source{.images = dir.file("x.idx"), .labels = {}};
  EXPECT_FALSE(read_idx_source(source, {.targets_required = false}).targets);
  expect_input_error([&] { read_idx_source(source, {.where = "t.yaml:2:3"}); },
                     {"t.yaml:2:3", "labels"});
}

TEST(IdxSource, CountsMustAgree) {
  TemporaryDirectory dir;
  write_idx(dir.file("images.idx"), sequence_array({100, 2}));
  write_idx(dir.file("labels.idx"), sequence_array({99}));
  const IdxSource source{.images = dir.file("images.idx"), .labels = dir.file("labels.idx")};
  expect_input_error([&] { read_idx_source(source, {.where = "t.yaml"}); },
                     {"images.idx has 100 samples but", "labels.idx has 99"});
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

}  // namespace
}  // namespace loom
