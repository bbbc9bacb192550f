// read_idx/write_idx on small files made here: the format's happy path (plain and gzipped)
// and every way a file can be damaged. The data set checks are in dataset_test.cpp.

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

}  // namespace
}  // namespace loom
