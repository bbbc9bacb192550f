// The .npz reader on archives made here: stored members read in place, deflated ones inflated,
// zip64 records, array keys, and damaged or lying archives.

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "engine/core/error.hpp"
#include "engine/data/npy.hpp"
#include "tests/support/npy_writer.hpp"
#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom {
namespace {

using testing::bytes_of;
using testing::expect_input_error;
using testing::npy_header;
using testing::TemporaryDirectory;
using testing::write_file;
using testing::zip_bytes;
using testing::ZipEntry;
using testing::ZipOptions;

const SourceContext kWithTargets{
    .model_input = {}, .targets_required = true, .where = "t.yaml:7:5"};

// x_train: 4 samples of 3 float32 values (sample s, value v is s·10 + v); y_train: 4 uint8.
std::vector<ZipEntry> training_arrays() {
  std::vector<float> features;
  for (int s = 0; s < 4; ++s) {
    for (int v = 0; v < 3; ++v) features.push_back(float(s * 10 + v));
  }
  return {{"x_train.npy", npy_header("<f4", "(4, 3)") + bytes_of(features)},
          {"y_train.npy", npy_header("|u1", "(4,)") + std::string("\x01\x00\x02\x01", 4)}};
}

NpzSource training_source(const std::string& file) {
  return {.file = file, .features = "x_train", .targets = "y_train"};
}

void expect_training_arrays(const SourceData& data) {
  ASSERT_EQ(data.features.count(), 4);
  EXPECT_EQ(data.features.type(), ElementType::float32);
  EXPECT_EQ(data.features.sample_shape(), (Shape{3}));
  EXPECT_EQ(data.features.value(3, 2), 32.0);
  ASSERT_TRUE(data.targets);
  EXPECT_EQ(data.targets->value(2, 0), 2.0);
}

TEST(Npz, StoredMembersAreReadInPlace) {
  TemporaryDirectory dir;
  const std::string file = dir.file("d.npz");
  write_file(file, zip_bytes(training_arrays()));
  expect_training_arrays(read_npz_source(training_source(file), kWithTargets));
  const SourceSize size = inspect_npz_source(training_source(file));
  EXPECT_EQ(size.samples, 4);
  EXPECT_EQ(size.bytes, 0);  // mapped, not read
}

TEST(Npz, DeflatedMembersAreInflated) {
  TemporaryDirectory dir;
  const std::string file = dir.file("d.npz");
  const std::vector<ZipEntry> entries = training_arrays();
  write_file(file, zip_bytes(entries, {.deflate = true}));
  expect_training_arrays(read_npz_source(training_source(file), kWithTargets));
  const SourceSize size = inspect_npz_source(training_source(file));
  EXPECT_EQ(size.samples, 4);
  // Inflated whole into memory: both members' .npy bytes.
  EXPECT_EQ(size.bytes, int64_t(entries[0].bytes.size() + entries[1].bytes.size()));
}

TEST(Npz, Zip64RecordsAreRead) {
  for (const bool deflate : {false, true}) {
    TemporaryDirectory dir;
    const std::string file = dir.file("d.npz");
    write_file(file, zip_bytes(training_arrays(), {.deflate = deflate, .zip64 = true}));
    expect_training_arrays(read_npz_source(training_source(file), kWithTargets));
  }
}

TEST(Npz, KeysMayNameTheMemberFile) {
  TemporaryDirectory dir;
  const std::string file = dir.file("d.npz");
  write_file(file, zip_bytes(training_arrays()));
  const NpzSource source{.file = file, .features = "x_train.npy", .targets = "y_train.npy"};
  expect_training_arrays(read_npz_source(source, kWithTargets));
}

TEST(Npz, BigEndianMembersAreConverted) {
  for (const bool deflate : {false, true}) {
    TemporaryDirectory dir;
    const std::string file = dir.file("d.npz");
    write_file(file, zip_bytes({{"x.npy", npy_header(">i4", "(2,)") +
                                              std::string("\x00\x00\x01\x00\xff\xff\xff\xfe", 8)}},
                               {.deflate = deflate}));
    const SourceData data = read_npz_source({.file = file, .features = "x", .targets = {}},
                                            SourceContext{.targets_required = false});
    EXPECT_EQ(data.features.value(0, 0), 256.0);
    EXPECT_EQ(data.features.value(1, 0), -2.0);
  }
}

TEST(NpzErrors, UnknownKeyListsTheArrays) {
  TemporaryDirectory dir;
  const std::string file = dir.file("d.npz");
  write_file(file, zip_bytes(training_arrays()));
  const NpzSource source{.file = file, .features = "x_tran", .targets = "y_train"};
  expect_input_error([&] { read_npz_source(source, kWithTargets); },
                     {file + ": no array 'x_tran' (arrays: x_train, y_train)"});
  expect_input_error([&] { inspect_npz_source(source); }, {"no array 'x_tran'"});
}

TEST(NpzErrors, CountMismatchNamesBothArrays) {
  TemporaryDirectory dir;
  const std::string file = dir.file("d.npz");
  std::vector<ZipEntry> entries = training_arrays();
  entries[1].bytes = npy_header("|u1", "(3,)") + std::string(3, '\0');
  write_file(file, zip_bytes(entries));
  expect_input_error([&] { read_npz_source(training_source(file), kWithTargets); },
                     {file + ": array 'x_train' has 4 samples but array 'y_train' has 3"});
}

TEST(NpzErrors, MissingTargetsWhenRequired) {
  TemporaryDirectory dir;
  const std::string file = dir.file("d.npz");
  write_file(file, zip_bytes(training_arrays()));
  expect_input_error(
      [&] { read_npz_source({.file = file, .features = "x_train", .targets = {}}, kWithTargets); },
      {"t.yaml:7:5", "targets"});
}

TEST(NpzErrors, DamagedMemberIsNamed) {
  TemporaryDirectory dir;
  const std::string file = dir.file("d.npz");
  std::vector<ZipEntry> entries = training_arrays();
  entries[0].bytes.resize(entries[0].bytes.size() - 4);  // a truncated .npy inside
  for (const bool deflate : {false, true}) {
    write_file(file, zip_bytes(entries, {.deflate = deflate}));
    expect_input_error([&] { read_npz_source(training_source(file), kWithTargets); },
                       {file + ": array 'x_train'", "truncated"});
  }
}

// The archive, with `damage` applied to its bytes, is refused with every one of `parts`.
void expect_archive_refused(const ZipOptions& options,
                            const std::function<void(std::string&)>& damage,
                            std::initializer_list<std::string> parts) {
  TemporaryDirectory dir;
  const std::string file = dir.file("d.npz");
  std::string bytes = zip_bytes(training_arrays(), options);
  damage(bytes);
  write_file(file, bytes);
  expect_input_error([&] { read_npz_source(training_source(file), kWithTargets); }, parts);
}

// Offsets in the archive of the first member (x_train.npy): its local header is at 0, its
// central directory entry follows the members.
size_t central_entry(const std::string& bytes) {
  return bytes.find("PK\x01\x02");
}

void put32(std::string& bytes, size_t at, uint32_t value) {
  for (size_t i = 0; i < 4; ++i) bytes[at + i] = char(value >> (8 * i));
}

TEST(NpzErrors, NotAZipArchive) {
  expect_archive_refused({}, [](std::string& b) { b = npy_header("<f4", "(1,)") + "abcd"; },
                         {"not a zip archive"});
  expect_archive_refused({}, [](std::string& b) { b.clear(); }, {"not a zip archive"});
}

TEST(NpzErrors, TruncatedArchive) {
  // Cut in the middle of the members: the end record is gone.
  expect_archive_refused({}, [](std::string& b) { b.resize(b.size() / 2); }, {"not a zip archive"});
  // The directory points past the data: a member's local header offset beyond the file.
  expect_archive_refused({}, [](std::string& b) { b[central_entry(b) + 42 + 3] = '\x40'; },
                         {"corrupt zip archive", "impossible sizes"});
}

TEST(NpzErrors, LyingSizes) {
  // The stored size grows past the end of the file (but not past its size).
  expect_archive_refused({},
                         [](std::string& b) {
                           const size_t entry = central_entry(b);
                           for (const size_t field : {entry + 20, entry + 24})
                             put32(b, field, uint32_t(b.size() - 40));
                         },
                         {"truncated zip archive", "x_train.npy"});
  // A deflated member declaring more than deflate can expand to.
  expect_archive_refused({.deflate = true},
                         [](std::string& b) { b[central_entry(b) + 24 + 3] = '\x40'; },
                         {"impossible sizes"});
  // A deflated member declaring a few bytes more than it inflates to.
  expect_archive_refused(
      {.deflate = true},
      [](std::string& b) { b[central_entry(b) + 24] = char(b[central_entry(b) + 24] + 5); },
      {"inflates to", "less than its declared"});
  // ... or fewer.
  expect_archive_refused(
      {.deflate = true},
      [](std::string& b) { b[central_entry(b) + 24] = char(b[central_entry(b) + 24] - 5); },
      {"inflates to more than"});
}

TEST(NpzErrors, CorruptDeflateDataAndChecksums) {
  expect_archive_refused({.deflate = true},
                         [](std::string& b) {
                           b[central_entry(b) + 16] ^= 0x5a;  // the CRC-32
                         },
                         {"checksum"});
  expect_archive_refused({.deflate = true},
                         [](std::string& b) {
                           // Garbage over the start of the deflate stream (after the local header
                           // and name).
                           for (size_t i = 30 + 11; i < 30 + 11 + 8; ++i) b[i] = '\xff';
                         },
                         {"x_train.npy", "deflate data"});
}

TEST(NpzErrors, UnsupportedArchives) {
  expect_archive_refused({}, [](std::string& b) { b[central_entry(b) + 8] = 1; }, {"encrypted"});
  expect_archive_refused({}, [](std::string& b) { b[central_entry(b) + 10] = 12; },
                         {"compression method 12"});
  expect_archive_refused({}, [](std::string& b) { b[b.size() - 22 + 4] = 1; }, {"multi-volume"});
  expect_archive_refused({.zip64 = true},
                         [](std::string& b) {
                           b[b.size() - 22 - 20] = 'X';  // the zip64 locator's signature
                         },
                         {"zip64"});
}

TEST(NpzErrors, DuplicateMembers) {
  TemporaryDirectory dir;
  const std::string file = dir.file("d.npz");
  std::vector<ZipEntry> entries = training_arrays();
  entries.push_back(entries[0]);
  write_file(file, zip_bytes(entries));
  expect_input_error([&] { read_npz_source(training_source(file), kWithTargets); },
                     {"two members named 'x_train.npy'"});
}

}  // namespace
}  // namespace loom
