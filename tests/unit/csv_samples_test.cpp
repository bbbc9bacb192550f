// read_csv_samples: pixel rows as a dataset to predict, on small files made here. What it
// accepts (a header, empty lines, whole numbers in any strtod form) and the line every defect
// produces, pointing at the file, the line and the column.

#include "engine/data/csv_samples.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/core/error.hpp"
#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom {
namespace {

using testing::expect_input_error;
using testing::TemporaryDirectory;

// Writes `text` to a file `name` in `dir` and returns its path.
std::string write_text(const TemporaryDirectory& dir, const std::string& name,
                       const std::string& text) {
  const std::string file = dir.file(name);
  std::ofstream(file, std::ios::binary) << text;
  return file;
}

std::vector<uint8_t> pixels(const SampleArray& data, int64_t sample) {
  std::vector<uint8_t> values;
  for (const std::byte value : data.sample(sample)) values.push_back(uint8_t(value));
  return values;
}

TEST(CsvSamples, ReadsOneSamplePerLine) {
  TemporaryDirectory dir;
  const std::string file = write_text(dir, "in.csv", "0,1,2,3\n255,128,7,0\n");
  const SampleArray data = read_csv_samples(file, {2, 2}, "--input");
  ASSERT_EQ(data.count(), 2);
  EXPECT_EQ(data.sample_shape(), (Shape{2, 2}));
  EXPECT_EQ(pixels(data, 0), (std::vector<uint8_t>{0, 1, 2, 3}));
  EXPECT_EQ(pixels(data, 1), (std::vector<uint8_t>{255, 128, 7, 0}));
}

TEST(CsvSamples, SkipsAHeaderLineAndEmptyLines) {
  TemporaryDirectory dir;
  const std::string file = write_text(dir, "in.csv", "p0,p1,p2\n\n1,2,3\n\n4,5,6");
  const SampleArray data = read_csv_samples(file, {3}, "--input");
  ASSERT_EQ(data.count(), 2);
  EXPECT_EQ(pixels(data, 1), (std::vector<uint8_t>{4, 5, 6}));
}

TEST(CsvSamples, AcceptsWholeNumbersWrittenAsDecimals) {
  TemporaryDirectory dir;
  const std::string file = write_text(dir, "in.csv", "7.0,2e1,+3\n");
  EXPECT_EQ(pixels(read_csv_samples(file, {3}, "--input"), 0), (std::vector<uint8_t>{7, 20, 3}));
}

TEST(CsvSamples, AValueThatIsNotAPixelNamesItsLineAndColumn) {
  TemporaryDirectory dir;
  for (const std::string bad : {"256", "-1", "1.5", "x", "nan", "3 "}) {
    const std::string file = write_text(dir, "in.csv", "1,2,3\n4," + bad + ",6\n");
    expect_input_error([&] { read_csv_samples(file, {3}, "--input"); },
                       {file + ":2:2: expected a pixel value 0..255, got '" + bad + "'"});
  }
}

TEST(CsvSamples, AnEmptyCellIsAnError) {
  TemporaryDirectory dir;
  const std::string file = write_text(dir, "in.csv", "1,,3\n");
  expect_input_error([&] { read_csv_samples(file, {3}, "--input"); },
                     {file + ":1:2: expected a pixel value 0..255, got ''"});
}

TEST(CsvSamples, OnlyTheFirstLineMayBeAHeader) {
  TemporaryDirectory dir;
  const std::string file = write_text(dir, "in.csv", "1,2,3\na,b,c\n");
  expect_input_error([&] { read_csv_samples(file, {3}, "--input"); },
                     {file + ":2:1: expected a pixel value 0..255, got 'a'"});
}

TEST(CsvSamples, ARowOfTheWrongLengthIsAnError) {
  TemporaryDirectory dir;
  const std::string short_row = write_text(dir, "short.csv", "1,2,3,4\n5,6,7\n");
  expect_input_error(
      [&] {
        read_csv_samples(short_row, {2, 2}, "--input");
      },
      {short_row + ":2: expected 4 values, got 3"});
  const std::string long_row = write_text(dir, "long.csv", "1,2,3,4,5\n");
  expect_input_error(
      [&] {
        read_csv_samples(long_row, {2, 2}, "--input");
      },
      {long_row + ":1: expected 4 values, got 5"});
}

TEST(CsvSamples, AFileWithoutSamplesIsAnError) {
  TemporaryDirectory dir;
  for (const std::string text : {"", "\n\n", "p0,p1\n"}) {
    const std::string file = write_text(dir, "in.csv", text);
    expect_input_error([&] { read_csv_samples(file, {2}, "--input"); }, {file + ": no samples"});
  }
}

TEST(CsvSamples, AMissingFileIsNamedWithTheFlag) {
  TemporaryDirectory dir;
  const std::string file = dir.file("absent.csv");
  expect_input_error([&] { read_csv_samples(file, {2}, "--input"); },
                     {"--input " + file, "not found"});
}

TEST(CsvSamples, ADirectoryIsRefused) {
  TemporaryDirectory dir;
  std::filesystem::create_directory(dir.file("folder.csv"));
  expect_input_error([&] { read_csv_samples(dir.file("folder.csv"), {2}, "--input"); },
                     {"--input " + dir.file("folder.csv"), "directory"});
}

}  // namespace
}  // namespace loom
