// read_csv_source and inspect_csv_source on small files made here: every option (header,
// skip_rows, delimiter, column selectors by name, index and range, class names), the text
// forms RFC 4180 allows (quotes, \r\n, empty lines, gzip), and the targets' kinds: values,
// class indices, class labels learnt or given. The errors are in csv_source_errors_test.cpp.

#include "engine/data/csv_source.hpp"

#include <gtest/gtest.h>
#include <omp.h>

#include <string>
#include <vector>

#include "engine/core/error.hpp"
#include "tests/support/csv_sources.hpp"

namespace loom {
namespace {

using namespace loom::testing;

using Values = std::vector<double>;
using Names = std::vector<std::string>;

const SourceContext kTraining{.where = "data.train"};

TEST(CsvSource, AHeaderNamesTheColumnsAndFeaturesAreEveryOtherColumn) {
  TemporaryDirectory dir;
  const auto file = write_text_file(dir, "d.csv", "a,b,price,c\n1,2,3.5,4\n5,6,7.25,-8e1\n");
  const SourceData data = read_csv_source(source(file, {"price"}), kTraining);
  EXPECT_EQ(data.features.type(), ElementType::float32);
  EXPECT_EQ(data.features.sample_shape(), (Shape{3}));
  EXPECT_EQ(values_of(data.features), (Values{1, 2, 4, 5, 6, -80}));
  ASSERT_TRUE(data.targets);
  EXPECT_EQ(data.targets->type(), ElementType::float32);
  EXPECT_EQ(data.targets->sample_shape(), Shape{});  // one value per sample
  EXPECT_EQ(values_of(*data.targets), (Values{3.5, 7.25}));
  EXPECT_TRUE(data.class_names.empty());
}

TEST(CsvSource, ColumnsByIndexNegativeIndexAndRangesInTheOrderSelected) {
  TemporaryDirectory dir;
  const auto file = write_text_file(dir, "d.csv", "0,1,2,3,4,5\n10,11,12,13,14,15\n");
  CsvSource csv = source(file, {"-1"}, {"3:5", "0", ":2"});
  csv.header = false;
  EXPECT_THROW(read_csv_source(csv, kTraining), InputError);  // 0 is selected twice
  csv.features = columns({"3:-1", "0", "1:2"});
  const SourceData data = read_csv_source(csv, kTraining);
  EXPECT_EQ(values_of(data.features), (Values{3, 4, 0, 1, 13, 14, 10, 11}));
  EXPECT_EQ(values_of(*data.targets), (Values{5, 15}));
  csv.features = columns({"2:"});
  csv.targets = columns({"0:2"});  // several target columns: one row of values each
  const SourceData open_end = read_csv_source(csv, kTraining);
  EXPECT_EQ(values_of(open_end.features), (Values{2, 3, 4, 5, 12, 13, 14, 15}));
  EXPECT_EQ(open_end.targets->sample_shape(), (Shape{2}));
  EXPECT_EQ(values_of(*open_end.targets), (Values{0, 1, 10, 11}));
}

TEST(CsvSource, SkipRowsPassesLinesBeforeTheHeaderLikeSklearnsCountLine) {
  TemporaryDirectory dir;
  const auto file =
      write_text_file(dir, "d.csv", "3,2,,\n\"X\",\"Y\",\"T\"\n1,2,0\n3,4,1\n5,6,0\n");
  CsvSource csv = source(file, {"T"});
  csv.skip_rows = 1;
  const SourceData data = read_csv_source(csv, kTraining);
  EXPECT_EQ(data.features.count(), 3);
  EXPECT_EQ(values_of(*data.targets), (Values{0, 1, 0}));
}

TEST(CsvSource, DelimitersOtherThanTheComma) {
  TemporaryDirectory dir;
  for (const char delimiter : {';', '\t', ' ', '|'}) {
    const std::string d(1, delimiter);
    CsvSource csv = source(write_text_file(dir, "d.csv", "x" + d + "y\n1.5" + d + "2\n"), {"y"});
    csv.delimiter = delimiter;
    const SourceData data = read_csv_source(csv, kTraining);
    EXPECT_EQ(values_of(data.features), (Values{1.5})) << d;
    EXPECT_EQ(values_of(*data.targets), (Values{2})) << d;
  }
  // A decimal comma is not a decimal point.
  CsvSource csv = source(write_text_file(dir, "d.csv", "x;y\n1,5;2\n"), {"y"});
  csv.delimiter = ';';
  EXPECT_THROW(read_csv_source(csv, kTraining), InputError);
}

TEST(CsvSource, QuotedCellsHoldDelimitersQuotesAndLineBreaks) {
  TemporaryDirectory dir;
  const auto file = write_text_file(
      dir, "d.csv",
      "\"size, cm\",\"kind\"\n\"1.5\",\"a, \"\"big\"\" one\"\n2,\"two\nlines\"\n3,plain\n");
  const SourceData data = read_csv_source(source(file, {"kind"}), kTraining);
  EXPECT_EQ(values_of(data.features), (Values{1.5, 2, 3}));
  EXPECT_EQ(data.class_names, (Names{"a, \"big\" one", "plain", "two\nlines"}));
  EXPECT_EQ(values_of(*data.targets), (Values{0, 2, 1}));
}

TEST(CsvSource, WindowsLineEndsEmptyLinesAByteOrderMarkAndNoFinalLineEnd) {
  TemporaryDirectory dir;
  const auto file = write_text_file(dir, "d.csv", "\xEF\xBB\xBFx,y\r\n\r\n1,2\r\n\n\n3,4\r\n5,6");
  const SourceData data = read_csv_source(source(file, {"y"}), kTraining);
  EXPECT_EQ(values_of(data.features), (Values{1, 3, 5}));
  EXPECT_EQ(values_of(*data.targets), (Values{2, 4, 6}));
}

TEST(CsvSource, NumbersInEveryFormAndSpacesAroundThem) {
  TemporaryDirectory dir;
  const auto file =
      write_text_file(dir, "d.csv", "7, -0.5 ,+3,.25,1e-3,1E2,-0,1e-50,16777217,-12\n");
  CsvSource csv = source(file, {}, {});
  csv.header = false;
  const SourceData data = read_csv_source(csv, SourceContext{.targets_required = false});
  EXPECT_EQ(values_of(data.features),
            (Values{7, -0.5, 3, 0.25, double(1e-3f), 100, 0, 0, 16777216, -12}));
  EXPECT_FALSE(data.targets);
}

TEST(CsvSource, GzipIsDetectedFromTheContent) {
  TemporaryDirectory dir;
  const std::string text = "a,label\n1,cat\n2,dog\n3,cat\n";
  const auto plain =
      read_csv_source(source(write_text_file(dir, "p.csv", text), {"label"}), kTraining);
  const auto gzipped = read_csv_source(
      source(write_text_file(dir, "named.csv", text, /*gzip=*/true), {"label"}), kTraining);
  EXPECT_EQ(values_of(gzipped.features), values_of(plain.features));
  EXPECT_EQ(values_of(*gzipped.targets), values_of(*plain.targets));
  EXPECT_EQ(gzipped.class_names, (Names{"cat", "dog"}));
}

TEST(CsvSource, LabelsOfTheTrainingSetAreItsDistinctLabelsSorted) {
  TemporaryDirectory dir;
  const auto file = write_text_file(dir, "d.csv", "x,y\n1,dog\n2,cat\n3,bird\n4,cat\n");
  const SourceData data = read_csv_source(source(file, {"y"}), kTraining);
  EXPECT_EQ(data.targets->type(), ElementType::int32);
  EXPECT_EQ(data.targets->sample_shape(), Shape{});
  EXPECT_EQ(data.class_names, (Names{"bird", "cat", "dog"}));
  EXPECT_EQ(values_of(*data.targets), (Values{2, 1, 0, 1}));
}

TEST(CsvSource, GivenClassNamesFixTheIndicesEvenForLabelsThatLookLikeNumbers) {
  TemporaryDirectory dir;
  const auto file = write_text_file(dir, "d.csv", "x,y\n1,7\n2,3\n3,5\n");
  CsvSource csv = source(file, {"y"});
  csv.class_names = {"7", "5", "3"};
  const SourceData data = read_csv_source(csv, kTraining);
  EXPECT_EQ(values_of(*data.targets), (Values{0, 2, 1}));
  EXPECT_EQ(data.class_names, csv.class_names);
}

TEST(CsvSource, NumericTargetsWithClassNamesAreClassIndices) {
  TemporaryDirectory dir;
  const auto file = write_text_file(dir, "d.csv", "x,y\n1,0\n2,1\n3,1.0\n");
  CsvSource csv = source(file, {"y"});
  csv.class_names = {"malignant", "benign"};
  const SourceData data = read_csv_source(csv, kTraining);
  EXPECT_EQ(data.targets->type(), ElementType::int32);
  EXPECT_EQ(values_of(*data.targets), (Values{0, 1, 1}));
  EXPECT_EQ(data.class_names, csv.class_names);
}

TEST(CsvSource, ValidationSetsMapTheirLabelsThroughTheTrainingClasses) {
  TemporaryDirectory dir;
  const auto file = write_text_file(dir, "v.csv", "x,y\n1,dog\n2,dog\n");
  const Names training = {"bird", "cat", "dog"};
  const SourceContext validation{.classes = &training, .where = "data.validation"};
  const SourceData data = read_csv_source(source(file, {"y"}), validation);
  EXPECT_EQ(values_of(*data.targets), (Values{2, 2}));
  EXPECT_EQ(data.class_names, training);
  // A training set with numeric targets has no classes: its validation set's stay numbers.
  const Names none;
  const auto numeric = write_text_file(dir, "n.csv", "x,y\n1,0.5\n");
  const SourceData values = read_csv_source(
      source(numeric, {"y"}), SourceContext{.classes = &none, .where = "data.validation"});
  EXPECT_EQ(values.targets->type(), ElementType::float32);
}

TEST(CsvSource, SamplesToPredictMayLackTheTargetColumn) {
  TemporaryDirectory dir;
  const SourceContext predict{.targets_required = false, .where = "data.predict"};
  const auto without = write_text_file(dir, "p.csv", "a,b\n1,2\n");
  const SourceData data = read_csv_source(source(without, {"label"}), predict);
  EXPECT_FALSE(data.targets);
  EXPECT_EQ(values_of(data.features), (Values{1, 2}));
  const auto with = write_text_file(dir, "q.csv", "a,b,label\n1,2,0\n");
  const SourceData labelled = read_csv_source(source(with, {"label"}), predict);
  ASSERT_TRUE(labelled.targets);
  EXPECT_EQ(values_of(labelled.features), (Values{1, 2}));
}

TEST(CsvSource, SamplesToPredictWithExactlyTheModelsInputsAreFeaturesAlone) {
  TemporaryDirectory dir;
  CsvSource csv = source(write_text_file(dir, "p.csv", "1,2,3\n4,5,6\n"), {"-1"});
  csv.header = false;
  const SourceData data = read_csv_source(
      csv, SourceContext{.model_input = {3}, .targets_required = false, .where = "--input"});
  EXPECT_FALSE(data.targets);
  EXPECT_EQ(values_of(data.features), (Values{1, 2, 3, 4, 5, 6}));
  // With the target column, as the training file has it.
  const SourceData labelled = read_csv_source(
      csv, SourceContext{.model_input = {2}, .targets_required = false, .where = "--input"});
  EXPECT_EQ(values_of(labelled.features), (Values{1, 2, 4, 5}));
  EXPECT_EQ(values_of(*labelled.targets), (Values{3, 6}));
}

TEST(CsvSource, ManyRowsReadInParallelGiveTheSameArraysAsOneThread) {
  TemporaryDirectory dir;
  std::string text = "a,b,c\n";
  for (int row = 0; row < 20000; ++row) {
    text += std::to_string(row) + "," + std::to_string(row % 7) + ".5,k" + std::to_string(row % 3) +
            "\n";
  }
  const CsvSource csv = source(write_text_file(dir, "d.csv", text), {"c"});
  const int threads = omp_get_max_threads();
  omp_set_num_threads(1);
  const SourceData one = read_csv_source(csv, kTraining);
  omp_set_num_threads(4);
  const SourceData four = read_csv_source(csv, kTraining);
  omp_set_num_threads(threads);
  EXPECT_EQ(values_of(one.features), values_of(four.features));
  EXPECT_EQ(values_of(*one.targets), values_of(*four.targets));
  EXPECT_EQ(four.features.count(), 20000);
  EXPECT_EQ(four.features.value(19999, 1), 0.5);  // 19999 % 7 == 0
  EXPECT_EQ(four.class_names, (Names{"k0", "k1", "k2"}));
}

TEST(CsvSource, InspectCountsTheSamplesAndTheBytesTheArraysWillHold) {
  TemporaryDirectory dir;
  const std::string text = "count line\n\"a,1\",b,c\n1,2,3\n\n4,5,6\r\n7,8,9";
  for (const bool gzip : {false, true}) {
    CsvSource csv = source(write_text_file(dir, "d.csv", text, gzip), {"c"});
    csv.skip_rows = 1;
    const SourceSize size = inspect_csv_source(csv);
    EXPECT_EQ(size.samples, 3);
    EXPECT_EQ(size.bytes, 3 * 3 * 4);
    EXPECT_EQ(read_csv_source(csv, kTraining).features.count(), size.samples);
  }
}

}  // namespace
}  // namespace loom
