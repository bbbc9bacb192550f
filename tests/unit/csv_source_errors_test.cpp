// Every defect a CSV source can have, each refused with one line that points at it: the file,
// line and column of a bad cell, the file and line of a ragged row, the config position of a
// selector that cannot be satisfied. Files are made here; the options are in
// csv_source_test.cpp.

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/core/error.hpp"
#include "engine/data/csv_source.hpp"
#include "tests/support/csv_sources.hpp"
#include "tests/support/rejection.hpp"

namespace loom {
namespace {

using namespace loom::testing;

const SourceContext kTraining{.where = "data.train"};

void expect_refused(const CsvSource& csv, std::initializer_list<std::string> parts,
                    const SourceContext& context = kTraining) {
  expect_input_error([&] { read_csv_source(csv, context); }, parts);
}

TEST(CsvSourceErrors, ACellThatIsNotANumberNamesItsLineColumnAndHeader) {
  TemporaryDirectory dir;
  for (const std::string bad : {"abc", "nan", "inf", "-inf", "1e39", "0x10", "1.5.2", "1e"}) {
    const auto file = write_text_file(dir, "d.csv", "age,y\n1,0\n" + bad + ",1\n");
    expect_refused(source(file, {"y"}),
                   {file + ":3:1: expected a number in column 'age', got '" + bad + "'"});
  }
  const auto empty = write_text_file(dir, "e.csv", "1,2,3\n4,,6\n");
  CsvSource csv = source(empty, {"0"});
  csv.header = false;
  expect_refused(csv, {empty + ":2:3: expected a number in column 1, got an empty cell"});
}

TEST(CsvSourceErrors, ANonNumericCellInANumericTargetColumnIsAnErrorNotANewClass) {
  TemporaryDirectory dir;
  const auto file = write_text_file(dir, "d.csv", "x,price\n1,24.0\n2,NA\n");
  expect_refused(source(file, {"price"}),
                 {file + ":3:3: expected a number in column 'price', got 'NA'"});
}

TEST(CsvSourceErrors, RaggedRowsNameTheirLineAndBothCounts) {
  TemporaryDirectory dir;
  const auto short_row = write_text_file(dir, "s.csv", "a,b,c\n1,2,3\n\n4,5\n");
  expect_refused(source(short_row, {"c"}), {short_row + ":4: expected 3 columns, got 2"});
  const auto long_row = write_text_file(dir, "l.csv", "1,2,3\n4,x,5,6\n");
  CsvSource csv = source(long_row, {"-1"});
  csv.header = false;
  expect_refused(csv, {long_row + ":2: expected 3 columns, got 4"});
  // A wide header over short rows is reported as ragged before the arrays are allocated.
  std::string wide = "y";
  for (int column = 1; column < 100000; ++column) wide += ",c" + std::to_string(column);
  for (int row = 0; row < 1000; ++row) wide += "\n1";
  const auto wide_file = write_text_file(dir, "w.csv", wide);
  expect_refused(source(wide_file, {"y"}), {wide_file + ":2: expected 100000 columns, got 1"});
}

TEST(CsvSourceErrors, ALineAfterAQuotedLineBreakIsCountedRight) {
  TemporaryDirectory dir;
  const auto file = write_text_file(dir, "d.csv", "x,y\n1,\"a\nb\"\n2,c\nbad,c\n");
  expect_refused(source(file, {"y"}), {file + ":5:1: expected a number in column 'x'"});
}

TEST(CsvSourceErrors, QuotesThatBreakRfc4180) {
  TemporaryDirectory dir;
  const auto open = write_text_file(dir, "o.csv", "x,y\n1,\"cat\n2,dog\n");
  expect_refused(source(open, {"y"}), {open + ":2:3: a quote that is never closed"});
  const auto after = write_text_file(dir, "a.csv", "x,y\n1,\"cat\"s\n");
  expect_refused(source(after, {"y"}),
                 {after + ":2:8: expected a delimiter or a line end after the closing quote"});
  const auto inside = write_text_file(dir, "i.csv", "x,y\n1,5\" screen\"\n");
  expect_refused(source(inside, {"y"}), {inside + ":2:4: a quote inside a cell"});
}

TEST(CsvSourceErrors, ALabelOutsideTheClassList) {
  TemporaryDirectory dir;
  const auto file = write_text_file(dir, "d.csv", "x,y\n1,cat\n2,dog\n");
  CsvSource csv = source(file, {"y"});
  csv.class_names = {"cat", "bird"};
  expect_refused(csv, {file + ":3:3: label 'dog' is not one of the classes (cat, bird)"});
  const std::vector<std::string> training = {"bird", "cat"};
  expect_refused(source(file, {"y"}), {file + ":3:3: label 'dog'", "(bird, cat)"},
                 SourceContext{.classes = &training, .where = "data.validation"});
  const auto indices = write_text_file(dir, "i.csv", "x,y\n1,0\n2,2\n");
  csv.file = indices;
  expect_refused(csv, {indices + ":3:3: expected a class index 0..1 (classes cat, bird) in "
                                 "column 'y', got '2'"});
  const auto empty = write_text_file(dir, "e.csv", "x,y\n1,cat\n2,\n");
  expect_refused(source(empty, {"y"}), {empty + ":3:3: expected a class label in column 'y'"});
}

TEST(CsvSourceErrors, HeaderNamesMustBeDistinct) {
  TemporaryDirectory dir;
  const auto file = write_text_file(dir, "d.csv", "a,b,a\n1,2,3\n");
  expect_refused(source(file, {"b"}),
                 {file + ":1:5: column name 'a' appears twice (columns 0 and 2)"});
}

TEST(CsvSourceErrors, SelectorsThatSelectNothingNameTheirConfigPosition) {
  TemporaryDirectory dir;
  const auto file = write_text_file(dir, "d.csv", "a,b,c\n1,2,3\n");
  expect_refused(
      source(file, {"price"}),
      {"data.train.targets[0]: no column 'price' in the header of " + file + " (a, b, c)"});
  expect_refused(source(file, {"3"}), {"data.train.targets[0]: column '3' is outside the 3 "
                                       "columns of " +
                                       file + " (0 to 2, or -3 to -1)"});
  expect_refused(source(file, {"-4"}), {"data.train.targets[0]: column '-4' is outside"});
  expect_refused(source(file, {"c"}, {"0:5"}), {"data.train.features[0]: range '0:5'"});
  expect_refused(source(file, {"c"}, {"1:1"}),
                 {"data.train.features[0]: range '1:1' selects none of the 3 columns"});
  CsvSource no_header = source(file, {"c"});
  no_header.header = false;
  expect_refused(no_header, {"data.train.targets[0]: column 'c' is a name, but " + file +
                             " is read without a header row (header: false)"});
}

TEST(CsvSourceErrors, AColumnSelectedTwiceOrAsBothFeatureAndTarget) {
  TemporaryDirectory dir;
  const auto file = write_text_file(dir, "d.csv", "a,b,c\n1,2,3\n");
  expect_refused(source(file, {"c"}, {"a", "0:2"}),
                 {"data.train.features[1]: column 'a' is selected twice (also by 'a' at "
                  "data.train.features[0])"});
  expect_refused(source(file, {"-1"}, {"1:"}),
                 {"data.train.features[0]: column 'c' is both a feature and a target (target "
                  "by '-1' at data.train.targets[0])"});
  expect_refused(source(file, {"a", "0"}), {"data.train.targets[1]: column 'a' is selected twice"});
}

TEST(CsvSourceErrors, TargetsRequiredForTrainingAndFeaturesLeft) {
  TemporaryDirectory dir;
  const auto file = write_text_file(dir, "d.csv", "a,b\n1,2\n");
  expect_refused(source(file, {}), {"data.train: " + file + ": no target columns"});
  expect_refused(source(file, {":"}), {"data.train: every column of " + file + " is a target"});
  CsvSource two = source(write_text_file(dir, "t.csv", "a,b,c\n1,cat,dog\n"), {"b", "c"});
  two.class_names = {"cat", "dog"};
  expect_refused(two, {"data.train: class labels need a single target column; 2 are selected"});
}

TEST(CsvSourceErrors, FilesThatAreNotCsvText) {
  TemporaryDirectory dir;
  expect_refused(source(dir.file("missing.csv"), {"y"}), {"missing.csv"});
  expect_refused(source(dir.path(), {"y"}), {dir.path()});
  const auto binary = write_text_file(dir, "b.csv", std::string("a,b\n1,\0\n", 8));
  expect_refused(source(binary, {"b"}), {binary + ": not a text file (a NUL byte at offset 6)"});
  const auto empty = write_text_file(dir, "e.csv", "");
  expect_refused(source(empty, {"y"}), {empty + ": no header row"});
  const auto header_only = write_text_file(dir, "h.csv", "a,y\n\n");
  expect_refused(source(header_only, {"y"}), {header_only + ": no samples"});
  const auto gzip = write_text_file(dir, "g.csv", "a,y\n1,2\n", /*gzip=*/true);
  std::filesystem::resize_file(gzip, std::filesystem::file_size(gzip) - 6);
  expect_refused(source(gzip, {"y"}), {gzip + ": corrupt or truncated gzip data"});
}

// In a child process whose address space is limited to 32 MiB above what it uses, so
// available_memory_bytes() is small: 0 when `csv` is refused with a message holding `expected`.
int refused_under_memory_limit(const CsvSource& csv, const std::string& expected) {
  const pid_t child = fork();
  if (child == 0) {
    long pages = 0;
    std::ifstream("/proc/self/statm") >> pages;
    const rlim_t limit = rlim_t(pages * sysconf(_SC_PAGESIZE)) + (rlim_t{32} << 20);
    const rlimit bound{limit, limit};
    setrlimit(RLIMIT_AS, &bound);
    try {
      read_csv_source(csv, kTraining);
    } catch (const InputError& error) {
      _exit(std::string(error.what()).find(expected) == std::string::npos ? 2 : 0);
    } catch (...) {
      _exit(3);
    }
    _exit(1);
  }
  int status = 0;
  waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(CsvSourceErrors, AFileLargerThanTheMemoryAvailableIsRefusedBeforeReading) {
  TemporaryDirectory dir;
  const auto sparse = dir.file("big.csv");
  std::ofstream(sparse) << "a,y\n";
  std::filesystem::resize_file(sparse, int64_t{1} << 30);  // sparse: no disk used
  EXPECT_EQ(refused_under_memory_limit(source(sparse, {"y"}), "of memory available"), 0);
}

TEST(CsvSourceErrors, GzipThatInflatesBeyondTheMemoryAvailableIsRefused) {
  TemporaryDirectory dir;
  std::string text = "a,y\n";
  for (int row = 0; row < (1 << 22); ++row) text += "0,0,0,0,0,0,0,0\n";  // 64 MiB
  const auto bomb = write_text_file(dir, "bomb.csv.gz", text, /*gzip=*/true);
  EXPECT_LT(std::filesystem::file_size(bomb), 1u << 20);
  // Refused from the size its trailer gives, before inflating.
  EXPECT_EQ(refused_under_memory_limit(source(bomb, {"y"}), "inflates to 64.0 MiB"), 0);
  // A trailer that lies is caught as the data inflates past the memory available.
  std::fstream patch(bomb, std::ios::in | std::ios::out | std::ios::binary);
  patch.seekp(-4, std::ios::end);
  patch.write("\x10\0\0\0", 4);
  patch.close();
  EXPECT_EQ(refused_under_memory_limit(source(bomb, {"y"}), "inflates to more than the"), 0);
}

}  // namespace
}  // namespace loom
