// The .npy reader on files made here: every dtype, both byte orders, every header version, and
// every way a file can be damaged or not be what its name says. npz_test.cpp reads archives,
// numpy_files_test.cpp files NumPy itself wrote.

#include "engine/data/npy.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/core/error.hpp"
#include "tests/support/npy_writer.hpp"
#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom {
namespace {

namespace fs = std::filesystem;
using testing::bytes_of;
using testing::expect_input_error;
using testing::npy_header;
using testing::TemporaryDirectory;
using testing::write_file;
using testing::zip_bytes;
using testing::ZipEntry;

const SourceContext kFeaturesOnly{.model_input = {}, .targets_required = false, .where = "t.yaml"};
const SourceContext kWithTargets{
    .model_input = {}, .targets_required = true, .where = "t.yaml:4:3"};

SampleArray read_features(const std::string& file) {
  return read_npy_source(NpySource{.features = file, .targets = {}}, kFeaturesOnly).features;
}

// Element i of a 3×2 test array is (i·7 mod 11) − 3 (negative for signed types), so no two
// neighbours agree; bool and unsigned types take it modulo their range.
template <typename T>
std::vector<T> test_values() {
  std::vector<T> values;
  for (int i = 0; i < 6; ++i) {
    const int value = i * 7 % 11 - (std::is_signed_v<T> ? 3 : 0);
    values.push_back(std::is_same_v<T, bool> ? T(value % 2) : T(value));
  }
  return values;
}

template <typename T>
void expect_round_trip(const std::string& descr, ElementType type) {
  TemporaryDirectory dir;
  const std::string file = dir.file("x.npy");
  const std::vector<T> values = test_values<T>();
  write_file(file, npy_header(descr, "(3, 2)") + bytes_of(values));
  const SampleArray array = read_features(file);
  EXPECT_EQ(array.type(), type) << descr;
  EXPECT_EQ(array.count(), 3) << descr;
  EXPECT_EQ(array.sample_shape(), (Shape{2})) << descr;
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(array.value(i / 2, i % 2), double(values[size_t(i)])) << descr << " element " << i;
  }
}

TEST(Npy, EveryNumericDtypeRoundTrips) {
  expect_round_trip<bool>("|b1", ElementType::boolean);
  expect_round_trip<uint8_t>("|u1", ElementType::uint8);
  expect_round_trip<int8_t>("|i1", ElementType::int8);
  expect_round_trip<uint16_t>("<u2", ElementType::uint16);
  expect_round_trip<int16_t>("<i2", ElementType::int16);
  expect_round_trip<uint32_t>("<u4", ElementType::uint32);
  expect_round_trip<int32_t>("<i4", ElementType::int32);
  expect_round_trip<uint64_t>("<u8", ElementType::uint64);
  expect_round_trip<int64_t>("<i8", ElementType::int64);
  expect_round_trip<float>("<f4", ElementType::float32);
  expect_round_trip<double>("<f8", ElementType::float64);
  expect_round_trip<int32_t>("=i4", ElementType::int32);  // '=' is native order too
}

TEST(Npy, Float16IsReadAsHalfPrecision) {
  TemporaryDirectory dir;
  const std::string file = dir.file("x.npy");
  // 1.0, -2.5, 65504 (the largest half), 2^-24 (the smallest subnormal).
  const std::vector<uint16_t> halves = {0x3c00, 0xc100, 0x7bff, 0x0001};
  write_file(file, npy_header("<f2", "(4,)") + bytes_of(halves));
  const SampleArray array = read_features(file);
  ASSERT_EQ(array.type(), ElementType::float16);
  EXPECT_EQ(array.sample_shape(), Shape{1});  // one value per sample
  EXPECT_EQ(array.value(0, 0), 1.0);
  EXPECT_EQ(array.value(1, 0), -2.5);
  EXPECT_EQ(array.value(2, 0), 65504.0);
  EXPECT_EQ(array.value(3, 0), std::ldexp(1.0, -24));
}

TEST(Npy, BigEndianArraysAreConvertedOnce) {
  TemporaryDirectory dir;
  const std::string file = dir.file("x.npy");
  // 1.5f is 0x3fc00000; big-endian its bytes are 3f c0 00 00. -2 as int16 is ff fe.
  write_file(file, npy_header(">f4", "(2,)") + std::string("\x3f\xc0\x00\x00\xc0\x00\x00\x00", 8));
  SampleArray array = read_features(file);
  EXPECT_EQ(array.value(0, 0), 1.5);
  EXPECT_EQ(array.value(1, 0), -2.0);
  write_file(file, npy_header(">i2", "(1, 2)") + std::string("\xff\xfe\x01\x00", 4));
  array = read_features(file);
  EXPECT_EQ(array.value(0, 0), -2.0);
  EXPECT_EQ(array.value(0, 1), 256.0);
  write_file(file, npy_header(">f2", "(1,)") + std::string("\x3c\x00", 2));
  EXPECT_EQ(read_features(file).value(0, 0), 1.0);
  // One-byte types have no order: '>u1' is read as it is.
  write_file(file, npy_header(">u1", "(2,)") + std::string("\x07\x09", 2));
  EXPECT_EQ(read_features(file).value(1, 0), 9.0);
}

TEST(Npy, Versions2And3HaveFourByteHeaderLengths) {
  for (const int version : {2, 3}) {
    TemporaryDirectory dir;
    const std::string file = dir.file("x.npy");
    const std::vector<float> values = {1, 2, 3, 4, 5, 6};
    write_file(file, npy_header("<f4", "(2, 3)", version) + bytes_of(values));
    const SampleArray array = read_features(file);
    EXPECT_EQ(array.sample_shape(), (Shape{3})) << "version " << version;
    EXPECT_EQ(array.value(1, 2), 6.0) << "version " << version;
  }
}

TEST(Npy, HigherRankSamplesKeepTheirShape) {
  TemporaryDirectory dir;
  const std::string file = dir.file("x.npy");
  write_file(file, npy_header("|u1", "(2, 3, 4, 1)") + std::string(24, '\x05'));
  const SampleArray array = read_features(file);
  EXPECT_EQ(array.count(), 2);
  EXPECT_EQ(array.sample_shape(), (Shape{3, 4, 1}));
  // Python 2's long integers ("3L") and a dict without the trailing comma parse too.
  write_file(file, testing::npy_header_with_dict(
                       "{'descr': '|u1', 'fortran_order': False, 'shape': (2L, 12L)}") +
                       std::string(24, '\x05'));
  EXPECT_EQ(read_features(file).sample_shape(), (Shape{12}));
}

TEST(Npy, FeaturesAndTargetsAreReadTogether) {
  TemporaryDirectory dir;
  write_file(dir.file("x.npy"), npy_header("<f4", "(3, 2)") + bytes_of(test_values<float>()));
  write_file(dir.file("y.npy"),
             npy_header("<i8", "(3,)") + bytes_of(std::vector<int64_t>{2, 0, 1}));
  const NpySource source{.features = dir.file("x.npy"), .targets = dir.file("y.npy")};
  const SourceData data = read_npy_source(source, kWithTargets);
  ASSERT_TRUE(data.targets);
  EXPECT_EQ(data.targets->type(), ElementType::int64);
  EXPECT_EQ(data.targets->value(0, 0), 2.0);
  EXPECT_TRUE(data.class_names.empty());
  // Native arrays are mapped: reading them holds nothing in memory.
  const SourceSize size = inspect_npy_source(source);
  EXPECT_EQ(size.samples, 3);
  EXPECT_EQ(size.bytes, 0);
}

TEST(Npy, BigEndianArraysCountTheirBytesInTheEstimate) {
  TemporaryDirectory dir;
  write_file(dir.file("x.npy"), npy_header(">f8", "(5, 3)") + std::string(120, '\0'));
  const SourceSize size = inspect_npy_source({.features = dir.file("x.npy"), .targets = {}});
  EXPECT_EQ(size.samples, 5);
  EXPECT_EQ(size.bytes, 120);
}

TEST(Npy, TargetCountMustMatchTheFeatures) {
  TemporaryDirectory dir;
  write_file(dir.file("features.npy"), npy_header("<f4", "(100, 1)") + std::string(400, '\0'));
  write_file(dir.file("targets.npy"), npy_header("|u1", "(99,)") + std::string(99, '\0'));
  const NpySource source{.features = dir.file("features.npy"), .targets = dir.file("targets.npy")};
  expect_input_error([&] { read_npy_source(source, kWithTargets); },
                     {"features.npy has 100 samples but", "targets.npy has 99"});
}

TEST(Npy, MissingTargetsAreAnErrorWhenRequired) {
  TemporaryDirectory dir;
  write_file(dir.file("x.npy"), npy_header("<f4", "(1,)") + std::string(4, '\0'));
  expect_input_error(
      [&] { read_npy_source({.features = dir.file("x.npy"), .targets = {}}, kWithTargets); },
      {"t.yaml:4:3", "targets"});
}

// ---- damaged files and dtypes that are not numbers -------------------------------------------

// The file holding `bytes` is refused with one InputError that starts with its name and
// mentions each of `parts`, by the reader and by the size estimate alike.
void expect_refused(const std::string& bytes, const std::vector<std::string>& parts) {
  TemporaryDirectory dir;
  const std::string file = dir.file("bad.npy");
  write_file(file, bytes);
  try {
    read_features(file);
    ADD_FAILURE() << "accepted: " << parts.front();
  } catch (const InputError& error) {
    const std::string message = error.what();
    EXPECT_TRUE(message.starts_with(file)) << message;
    for (const std::string& part : parts) {
      EXPECT_NE(message.find(part), std::string::npos) << "'" << part << "' not in: " << message;
    }
  }
  EXPECT_THROW(inspect_npy_source({.features = file, .targets = {}}), InputError);
}

TEST(NpyErrors, TruncatedData) {
  expect_refused(npy_header("<f4", "(3, 2)") + std::string(20, '\0'),
                 {"truncated", "24 bytes", "has 20"});
}

TEST(NpyErrors, TrailingBytes) {
  expect_refused(npy_header("<f4", "(3, 2)") + std::string(27, '\0'), {"3 unexpected bytes"});
}

TEST(NpyErrors, ShapeWhoseSizeOverflows) {
  expect_refused(npy_header("<f8", "(4611686018427387904, 4)"), {"overflows"});
  expect_refused(npy_header("<f8", "(99999999999999999999,)"), {"beyond 64-bit"});
  expect_refused(npy_header("<f8", "(2, -3)"), {"negative"});
}

TEST(NpyErrors, HugeShapeAgainstASmallFile) {
  // 2^40 floats promised, a few bytes present: refused from the sizes, nothing allocated.
  expect_refused(npy_header("<f4", "(1099511627776,)") + std::string(16, '\0'), {"truncated"});
}

TEST(NpyErrors, DtypesThatAreNotNumbers) {
  expect_refused(npy_header("<c8", "(2,)") + std::string(16, '\0'), {"'<c8'", "complex"});
  expect_refused(npy_header("|O", "(2,)") + std::string(16, '\0'), {"'|O'", "objects"});
  expect_refused(npy_header("<U5", "(2,)") + std::string(40, '\0'), {"'<U5'", "strings"});
  expect_refused(npy_header("<M8[ns]", "(2,)") + std::string(16, '\0'), {"dates"});
  expect_refused(npy_header("<f16", "(2,)") + std::string(32, '\0'), {"'<f16'"});
  expect_refused(testing::npy_header_with_dict(
                     "{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, "
                     "'shape': (2,), }") +
                     std::string(16, '\0'),
                 {"structured"});
}

TEST(NpyErrors, FortranOrder) {
  expect_refused(npy_header("<f4", "(2, 2)", 1, true) + std::string(16, '\0'),
                 {"Fortran", "ascontiguousarray"});
}

TEST(NpyErrors, ScalarsAndEmptyArraysAreNotSamples) {
  expect_refused(npy_header("<f4", "()") + std::string(4, '\0'), {"single value", "shape ()"});
  expect_refused(npy_header("<f4", "(0, 3)"), {"no samples", "(0, 3)"});
  expect_refused(npy_header("<f4", "(3, 0)"), {"empty", "(3, 0)"});
}

TEST(NpyErrors, NotANpyFile) {
  expect_refused("PK\x03\x04 a zip file, not a .npy", {"not a .npy file"});
  expect_refused("", {"not a .npy file"});
  std::string version4 = npy_header("<f4", "(1,)") + std::string(4, '\0');
  version4[6] = '\x04';
  expect_refused(version4, {"version 4.0"});
}

TEST(NpyErrors, MalformedHeaders) {
  const std::string header = npy_header("<f4", "(1,)");
  expect_refused(header.substr(0, 30), {"truncated .npy header"});
  std::string huge_length = header;
  huge_length[8] = '\xff';
  huge_length[9] = '\xff';
  expect_refused(huge_length, {"truncated .npy header"});
  std::string v2_huge = npy_header("<f4", "(1,)", 2);
  v2_huge[11] = '\x7f';
  expect_refused(v2_huge, {"claims"});
  using testing::npy_header_with_dict;
  expect_refused(npy_header_with_dict("{'descr': '<f4', 'shape': (1,), }") + std::string(4, '\0'),
                 {"lacks 'fortran_order'"});
  expect_refused(npy_header_with_dict("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), "
                                      "'extra': 1}"),
                 {"unexpected key 'extra'"});
  expect_refused(npy_header_with_dict("{'descr': '<f4', 'fortran_order': Maybe, 'shape': (1,)}"),
                 {"True or False"});
  expect_refused(npy_header_with_dict("{'descr': '<f4, 'fortran_order': False, 'shape': (1,)}"),
                 {"malformed"});
  expect_refused(npy_header_with_dict("[1, 2, 3]"), {"'{'"});
}

TEST(NpyErrors, NotARegularFile) {
  TemporaryDirectory dir;
  const std::string fifo = dir.file("x.npy");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  expect_input_error([&] { read_features(fifo); }, {fifo, "FIFO"});
  expect_input_error([&] { read_features(dir.path()); }, {dir.path(), "directory"});
  expect_input_error([&] { read_features(dir.file("absent.npy")); }, {"absent.npy", "not found"});
}

}  // namespace
}  // namespace loom
