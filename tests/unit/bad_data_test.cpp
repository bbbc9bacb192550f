// Bad data files and bad checkpoints, made by the test itself at run time (no binary files in
// the repository). A small valid config reads its idx files from a temporary directory; each
// case breaks one file there. The trainer is run as a user runs it, and the contract is the
// one of tests/bad_configs/: exit code 2, one line "error: ..." naming the broken file and the
// defect, and nothing written (no run directory).

#include <gtest/gtest.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "engine/data/idx.hpp"
#include "engine/train/safetensors.hpp"
#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom {
namespace {

namespace fs = std::filesystem;
using namespace testing;  // the trainer runner, temporary directories, the rejection contract

using Bytes = std::vector<uint8_t>;

Bytes read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

void write_bytes(const fs::path& file, const Bytes& bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  ASSERT_TRUE(out.good()) << file;
}

void write_gzip(const fs::path& file, const Bytes& bytes) {
  gzFile out = gzopen(file.c_str(), "wb");
  ASSERT_NE(out, nullptr) << file;
  ASSERT_EQ(gzwrite(out, bytes.data(), unsigned(bytes.size())), int(bytes.size()));
  ASSERT_EQ(gzclose(out), Z_OK);
}

// Samples are 2x2 images, so the model input is [4]; labels cycle through the ten classes.
IdxArray images(int64_t count, int64_t height = 2, int64_t width = 2) {
  IdxArray array{.dims = {count, height, width}, .data = {}};
  for (int64_t i = 0; i < count * height * width; ++i) array.data.push_back(uint8_t(i * 37));
  return array;
}

IdxArray labels(int64_t count) {
  IdxArray array{.dims = {count}, .data = {}};
  for (int64_t i = 0; i < count; ++i) array.data.push_back(uint8_t(i % 10));
  return array;
}

constexpr int64_t kTrainSamples = 8;

// A valid experiment over root/: every case breaks exactly one of these files.
void write_valid_experiment(const fs::path& root) {
  write_idx(root / "train-images", images(kTrainSamples));
  write_idx(root / "train-labels", labels(kTrainSamples));
  write_idx(root / "test-images", images(4));
  write_idx(root / "test-labels", labels(4));
  std::ofstream config(root / "experiment.yaml");
  config << "name: bad_data\n"
            "seed: 1\n"
            "data:\n"
            "  root: '"
         << root.string()
         << "'\n"
            "  train: {format: idx, images: train-images, labels: train-labels}\n"
            "  test: {format: idx, images: test-images, labels: test-labels}\n"
            "model:\n"
            "  input: [4]\n"
            "  layers:\n"
            "    - {dense: 10, activation: softmax}\n"
            "trainer:\n"
            "  optimizer: sgd\n"
            "  loss: categorical_crossentropy\n"
            "  metrics: [accuracy]\n"
            "  batch_size: 2\n"
            "  epochs: 1\n";
}

// ---- bad idx files -------------------------------------------------------------------------

struct BadDataCase {
  std::string name;
  std::string file;  // the file the case breaks, relative to the data root
  std::function<void(const fs::path& file)> damage;
  std::string defect;  // what the message must say about it
};

void PrintTo(const BadDataCase& c, std::ostream* out) {
  *out << c.name;
}

Bytes valid_images_bytes(const fs::path& scratch) {
  const fs::path file = scratch / "valid-images.tmp";
  write_idx(file, images(kTrainSamples));
  Bytes bytes = read_bytes(file);
  fs::remove(file);
  return bytes;
}

std::vector<BadDataCase> bad_data_cases() {
  std::vector<BadDataCase> cases;
  cases.push_back({"TruncatedImages", "train-images",
                   [](const fs::path& file) {
                     Bytes bytes = read_bytes(file);
                     bytes.resize(bytes.size() - 3);
                     write_bytes(file, bytes);
                   },
                   "truncated: the header promises 32 bytes of data"});
  cases.push_back({"TruncatedHeader", "train-images",
                   [](const fs::path& file) {
                     Bytes bytes = read_bytes(file);
                     bytes.resize(8);  // the magic and one of three dimensions
                     write_bytes(file, bytes);
                   },
                   "truncated idx header"});
  cases.push_back({"EmptyFile", "train-labels", [](const fs::path& file) { write_bytes(file, {}); },
                   "too short for an idx header (0 bytes)"});
  cases.push_back({"TruncatedGzip", "train-images",
                   [](const fs::path& file) {
                     const fs::path gz = file.string() + ".gz";
                     write_gzip(gz, valid_images_bytes(file.parent_path()));
                     Bytes bytes = read_bytes(gz);
                     bytes.resize(bytes.size() / 2);
                     write_bytes(gz, bytes);
                     // The config names the file without .gz: compression is detected from
                     // the content.
                     fs::rename(gz, file);
                   },
                   "corrupt or truncated gzip data"});
  cases.push_back({"GzipWithBadChecksum", "train-images",
                   [](const fs::path& file) {
                     const fs::path gz = file.string() + ".gz";
                     write_gzip(gz, valid_images_bytes(file.parent_path()));
                     Bytes bytes = read_bytes(gz);
                     bytes[bytes.size() - 6] ^= 0xff;  // the CRC-32 in the gzip trailer
                     write_bytes(gz, bytes);
                     fs::rename(gz, file);
                   },
                   "corrupt or truncated gzip data"});
  cases.push_back({"WrongMagic", "train-images",
                   [](const fs::path& file) {
                     Bytes bytes = read_bytes(file);
                     bytes[0] = 0x1f;
                     bytes[1] = 0x8c;  // neither idx nor gzip
                     write_bytes(file, bytes);
                   },
                   "not an idx file (magic number 0x1f8c0803"});
  cases.push_back({"TextFile", "train-labels",
                   [](const fs::path& file) {
                     const std::string text = "0,1,2,3,4,5,6,7\n";
                     write_bytes(file, Bytes(text.begin(), text.end()));
                   },
                   "not an idx file"});
  cases.push_back({"WrongElementType", "train-images",
                   [](const fs::path& file) {
                     Bytes bytes = read_bytes(file);
                     bytes[2] = 0x0a;  // between the types the format defines
                     write_bytes(file, bytes);
                   },
                   "idx element type 0x0a is not one the format defines"});
  cases.push_back({"WrongSampleSize", "train-images",
                   [](const fs::path& file) { write_idx(file, images(kTrainSamples, 3, 3)); },
                   "the samples are [3, 3] (9 values) but the model input is [4] (4)"});
  cases.push_back(
      {"ImagesOfRankOne", "train-images",
       [](const fs::path& file) { write_idx(file, IdxArray{.dims = {32}, .data = Bytes(32, 7)}); },
       "expected images with dimensions [count, ...], got rank 1"});
  cases.push_back({"LabelsOfTheWrongWidth", "train-labels",
                   [](const fs::path& file) {
                     write_idx(file, IdxArray{.dims = {kTrainSamples, 2},
                                              .data = labels(2 * kTrainSamples).data});
                   },
                   "2 target values per sample, but the model output has 10 units"});
  cases.push_back(
      {"LabelOutOfRange", "train-labels",
       [](const fs::path& file) {
         IdxArray array = labels(kTrainSamples);
         array.data[5] = 10;
         write_idx(file, array);
       },
       "the target of sample 5 is 10, not a class index 0..9 (the model output has 10 units)"});
  cases.push_back(
      {"TestLabelOutOfRange", "test-labels",
       [](const fs::path& file) {
         IdxArray array = labels(4);
         array.data[3] = 255;
         write_idx(file, array);
       },
       "the target of sample 3 is 255, not a class index 0..9 (the model output has 10 units)"});
  cases.push_back({"LabelCountDiffers", "train-labels",
                   [](const fs::path& file) { write_idx(file, labels(kTrainSamples - 1)); },
                   "has 8 samples but"});
  cases.push_back({"EmptyDataset", "train-images",
                   [](const fs::path& file) {
                     write_idx(file, IdxArray{.dims = {0, 2, 2}, .data = {}});
                   },
                   "dimension 0 is 0"});
  cases.push_back({"TrailingBytes", "train-labels",
                   [](const fs::path& file) {
                     Bytes bytes = read_bytes(file);
                     bytes.insert(bytes.end(), {1, 2, 3, 4, 5});
                     write_bytes(file, bytes);
                   },
                   "5 unexpected bytes after the data the header describes"});
  cases.push_back({"ImplausibleDimensions", "train-images",
                   [](const fs::path& file) {
                     // [2^32-1, 2^32-1, 2^32-1] samples: a corrupt header must not make the
                     // reader allocate what it says.
                     Bytes bytes = read_bytes(file);
                     std::fill(bytes.begin() + 4, bytes.begin() + 16, 0xff);
                     write_bytes(file, bytes);
                   },
                   "idx dimensions are implausibly large"});
  cases.push_back({"DimensionsWhoseProductOverflows", "train-images",
                   [](const fs::path& file) {
                     // [3*2^30, 3*2^30, 16]: the product is 9*2^64, which wraps to 0 in 64 bits.
                     const Bytes header = {0, 0, 8, 3, 0xc0, 0, 0, 0, 0xc0, 0, 0, 0, 0, 0, 0, 16};
                     write_bytes(file, header);
                   },
                   "idx dimensions are implausibly large"});
  cases.push_back({"FileIsADirectory", "train-labels",
                   [](const fs::path& file) {
                     fs::remove(file);
                     fs::create_directory(file);
                   },
                   "is a directory, not a regular file"});
  return cases;
}

class BadDataTest : public ::testing::TestWithParam<BadDataCase> {};

TEST_P(BadDataTest, IsRejectedWithOneMessageNamingTheFile) {
  const BadDataCase& bad = GetParam();
  TemporaryDirectory scratch;
  const fs::path root = scratch.file("data");
  fs::create_directory(root);
  write_valid_experiment(root);
  const fs::path broken = root / bad.file;
  bad.damage(broken);
  if (::testing::Test::HasFatalFailure()) return;

  const std::string run = scratch.file("run");
  const auto result =
      run_command(quoted(trainer_path()) + " train " + quoted((root / "experiment.yaml").string()) +
                  " --out " + quoted(run));
  EXPECT_FALSE(fs::exists(run)) << "the run directory was written for bad data";
  if (!expect_one_error_line(result)) return;
  EXPECT_NE(result.err.find(broken.string()), std::string::npos)
      << "expected the file " << broken << "\nstderr: " << result.err;
  EXPECT_NE(result.err.find(bad.defect), std::string::npos)
      << "expected: " << bad.defect << "\nstderr:   " << result.err;
}

std::string case_name(const ::testing::TestParamInfo<BadDataCase>& param) {
  return param.param.name;
}

INSTANTIATE_TEST_SUITE_P(Corpus, BadDataTest, ::testing::ValuesIn(bad_data_cases()), case_name);

// ---- bad checkpoints -----------------------------------------------------------------------

// One short real training run makes the checkpoint every case starts from.
class BadCheckpointTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    scratch_ = std::make_unique<TemporaryDirectory>();
    root_ = fs::path(scratch_->file("data"));
    fs::create_directory(root_);
    write_valid_experiment(root_);
    const std::string run = scratch_->file("run");
    const auto result = run_command(quoted(trainer_path()) + " train " + quoted(config()) +
                                    " --out " + quoted(run));
    ASSERT_EQ(result.exit_code, 0) << result.err;
    checkpoint_ = fs::path(run) / "last.safetensors";
    ASSERT_TRUE(fs::is_regular_file(checkpoint_));
  }
  static void TearDownTestSuite() { scratch_.reset(); }

  static std::string config() { return (root_ / "experiment.yaml").string(); }

  // A copy of the good checkpoint to break.
  static fs::path copy(const std::string& name) {
    const fs::path file = root_ / name;
    fs::copy_file(checkpoint_, file, fs::copy_options::overwrite_existing);
    return file;
  }

  // `trainer evaluate` must refuse the file: exit 2, one line naming it and the defect.
  static void expect_refused(const fs::path& weights, const std::string& defect) {
    const auto before = std::distance(fs::directory_iterator(root_), fs::directory_iterator());
    const auto result = run_command(quoted(trainer_path()) + " evaluate " + quoted(config()) +
                                    " --weights " + quoted(weights.string()));
    if (!expect_one_error_line(result)) return;
    EXPECT_NE(result.err.find(weights.string()), std::string::npos)
        << "expected the file " << weights << "\nstderr: " << result.err;
    EXPECT_NE(result.err.find(defect), std::string::npos)
        << "expected: " << defect << "\nstderr:   " << result.err;
    EXPECT_EQ(std::distance(fs::directory_iterator(root_), fs::directory_iterator()), before)
        << "evaluate wrote a file";
  }

  static std::unique_ptr<TemporaryDirectory> scratch_;
  static fs::path root_;
  static fs::path checkpoint_;
};

std::unique_ptr<TemporaryDirectory> BadCheckpointTest::scratch_;
fs::path BadCheckpointTest::root_;
fs::path BadCheckpointTest::checkpoint_;

TEST_F(BadCheckpointTest, TheGoodOneIsAccepted) {
  const auto result = run_command(quoted(trainer_path()) + " evaluate " + quoted(config()) +
                                  " --weights " + quoted(checkpoint_.string()));
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

TEST_F(BadCheckpointTest, MissingFile) {
  expect_refused(root_ / "no_such.safetensors", "not found");
}

TEST_F(BadCheckpointTest, EmptyFile) {
  const fs::path file = root_ / "empty.safetensors";
  write_bytes(file, {});
  expect_refused(file, "truncated checkpoint");
}

TEST_F(BadCheckpointTest, Truncated) {
  const fs::path file = copy("truncated.safetensors");
  Bytes bytes = read_bytes(file);
  bytes.resize(bytes.size() - 16);
  write_bytes(file, bytes);
  expect_refused(file, "truncated");
}

TEST_F(BadCheckpointTest, TruncatedInTheHeader) {
  const fs::path file = copy("truncated_header.safetensors");
  Bytes bytes = read_bytes(file);
  bytes.resize(20);
  write_bytes(file, bytes);
  expect_refused(file, "truncated checkpoint (header)");
}

TEST_F(BadCheckpointTest, FlippedByteFailsTheChecksum) {
  const fs::path file = copy("flipped.safetensors");
  Bytes bytes = read_bytes(file);
  bytes.back() ^= 0x40;  // a bit of the last tensor's data
  write_bytes(file, bytes);
  expect_refused(file, "checksum mismatch");
}

TEST_F(BadCheckpointTest, HeaderIsNotJson) {
  const fs::path file = copy("not_json.safetensors");
  Bytes bytes = read_bytes(file);
  ASSERT_EQ(bytes.at(8), uint8_t('{'));
  bytes[8] = 'X';
  write_bytes(file, bytes);
  expect_refused(file, "corrupt checkpoint header");
}

TEST_F(BadCheckpointTest, ImplausibleHeaderLength) {
  const fs::path file = copy("header_length.safetensors");
  Bytes bytes = read_bytes(file);
  std::fill(bytes.begin(), bytes.begin() + 8, 0xff);
  write_bytes(file, bytes);
  expect_refused(file, "not a safetensors file");
}

TEST_F(BadCheckpointTest, TensorMissing) {
  const SafetensorsFile good = SafetensorsFile::read(checkpoint_);
  const fs::path file = root_ / "missing_bias.safetensors";
  write_safetensors(file,
                    {{"weights/dense/kernel",
                      "F32",
                      {4, 10},
                      good.bytes("weights/dense/kernel", "F32", {4, 10})}},
                    {});
  expect_refused(file, "no tensor 'weights/dense/bias'");
}

TEST_F(BadCheckpointTest, TensorOfTheWrongShape) {
  const SafetensorsFile good = SafetensorsFile::read(checkpoint_);
  const fs::path file = root_ / "wrong_shape.safetensors";
  write_safetensors(
      file,
      {{"weights/dense/kernel", "F32", {10, 4}, good.bytes("weights/dense/kernel", "F32", {4, 10})},
       {"weights/dense/bias", "F32", {10}, good.bytes("weights/dense/bias", "F32", {10})}},
      {});
  expect_refused(file, "tensor 'weights/dense/kernel' is F32[10, 4], expected F32[4, 10]");
}

TEST_F(BadCheckpointTest, TensorOfTheWrongType) {
  const SafetensorsFile good = SafetensorsFile::read(checkpoint_);
  const fs::path file = root_ / "wrong_type.safetensors";
  write_safetensors(
      file,
      {{"weights/dense/kernel", "I32", {4, 10}, good.bytes("weights/dense/kernel", "F32", {4, 10})},
       {"weights/dense/bias", "F32", {10}, good.bytes("weights/dense/bias", "F32", {10})}},
      {});
  expect_refused(file, "tensor 'weights/dense/kernel' is I32[4, 10], expected F32[4, 10]");
}

TEST_F(BadCheckpointTest, NotACheckpointAtAll) {
  // An idx file given as weights: its first 8 bytes read as a huge header length.
  const fs::path file = root_ / "train-images";
  expect_refused(file, "not a safetensors file");
}

}  // namespace
}  // namespace loom
