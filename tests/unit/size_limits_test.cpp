// Sizes from hostile input: checked arithmetic and the element cap, window attributes, idx
// headers that promise more than the file holds or less than it inflates to (a gzip bomb),
// and the memory estimate that refuses a job before it allocates. All data is made here and
// small; nothing allocates gigabytes.

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <zlib.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <string>
#include <vector>

#include "engine/config/build_graph.hpp"
#include "engine/config/experiment.hpp"
#include "engine/core/checked.hpp"
#include "engine/core/tensor_type.hpp"
#include "engine/data/idx.hpp"
#include "engine/graph/conv_geometry.hpp"
#include "engine/graph/graph.hpp"
#include "engine/train/memory_estimate.hpp"
#include "engine/train/trainer.hpp"
#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom {
namespace {

namespace fs = std::filesystem;
using testing::expect_input_error;
using testing::TemporaryDirectory;
using Bytes = std::vector<uint8_t>;

// ---- checked arithmetic and the element cap ------------------------------------------------

TEST(CheckedArithmetic, RefusesWhatWrapsAndPassesTheRest) {
  EXPECT_EQ(checked_mul(3037000499, 3037000499, "x"), 9223372030926249001);
  EXPECT_EQ(checked_add(INT64_MAX - 1, 1, "x"), INT64_MAX);
  expect_input_error([] { checked_mul(3037000500, 3037000500, "the size"); },
                     {"the size", "3037000500 × 3037000500", "overflows"});
  expect_input_error([] { checked_add(INT64_MAX, 1, "the end"); }, {"the end", "overflows"});
}

// slice is emitted by concat's gradient, never written in a config, but its attributes are
// checked without an addition that could wrap (begin + size past 2^63).
TEST(CheckedArithmetic, SliceBeyondItsInputIsRefusedWithoutWrapping) {
  Graph graph;
  const ValueId x = graph.add_input("x", {DType::f32, {32, 784}});
  Attributes attributes;
  attributes.set("axis", int64_t{1});
  attributes.set("begin", int64_t{1});
  attributes.set("size", INT64_MAX);
  expect_input_error([&] { graph.add_node1("s", "slice", {x}, attributes); },
                     {"slice of begin 1 and size 9223372036854775807", "out of range"});
}

TEST(CheckedArithmetic, NumelRefusesWrappedAndHugeShapes) {
  EXPECT_EQ(numel({1 << 20, 1 << 20}), kMaxElements);
  // 2^62+1 × 784 is 784 modulo 2^64: the unchecked product looked like a valid flat input.
  expect_input_error([] { numel({4611686018427387905, 784}); }, {"more than the limit of 2^40"});
  expect_input_error([] { numel({4294967296, 4294967296}); }, {"1.84e+19 elements"});
  expect_input_error([] { numel({kMaxElements, 2}); }, {"2199023255552 elements"});
  expect_input_error([] { numel({4, -1}); }, {"negative dimension"});
  EXPECT_EQ((TensorType{DType::f32, {1 << 20, 1 << 20}}.bytes()), int64_t{1} << 42);
}

TEST(CheckedArithmetic, WindowAttributesAreCheckedBeforeTheyAreUsed) {
  EXPECT_EQ(window_axis(28, 3, 1, 2, "valid")->output, 24);
  expect_input_error([] { window_axis(28, 3, 1, int64_t{1} << 62, "same"); },
                     {"dilation 4611686018427387904 is out of range"});
  expect_input_error([] { window_axis(28, 5, 1, int64_t{1} << 30, "same"); },
                     {"spans 4294967297 positions"});
  expect_input_error([] { window_axis(28, 3, INT64_MAX, 1, "same"); }, {"stride"});
}

// ---- idx headers against what the file holds -----------------------------------------------

// A gzip file of `members` concatenated gzip members, each inflating to `member` (zlib reads
// concatenated members as one stream). Writing one member and repeating its bytes makes a
// stream that inflates to gigabytes from a file of a few hundred kilobytes, at once.
void write_gzip_members(const fs::path& file, const Bytes& first, const Bytes& member,
                        int members) {
  const auto compress = [](const Bytes& bytes) {
    z_stream stream{};
    EXPECT_EQ(deflateInit2(&stream, 9, Z_DEFLATED, 16 + 15, 9, Z_DEFAULT_STRATEGY), Z_OK);
    Bytes out(deflateBound(&stream, uLong(bytes.size())));
    stream.next_in = const_cast<Bytes::value_type*>(bytes.data());
    stream.avail_in = unsigned(bytes.size());
    stream.next_out = out.data();
    stream.avail_out = unsigned(out.size());
    EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
    out.resize(stream.total_out);
    deflateEnd(&stream);
    return out;
  };
  std::ofstream out(file, std::ios::binary);
  const Bytes head = compress(first);
  out.write(reinterpret_cast<const char*>(head.data()), std::streamsize(head.size()));
  const Bytes body = compress(member);
  for (int i = 0; i < members; ++i) {
    out.write(reinterpret_cast<const char*>(body.data()), std::streamsize(body.size()));
  }
  ASSERT_TRUE(out.good());
}

// The idx header of unsigned bytes with the given dimensions.
Bytes idx_header(std::initializer_list<uint32_t> dims) {
  Bytes bytes = {0, 0, 8, uint8_t(dims.size())};
  for (const uint32_t dim : dims) {
    for (int shift = 24; shift >= 0; shift -= 8) bytes.push_back(uint8_t(dim >> shift));
  }
  return bytes;
}

TEST(IdxLimits, AGzipBombStopsJustPastThePromisedBytes) {
  TemporaryDirectory dir;
  const std::string file = dir.file("bomb.idx.gz");
  // A header promising 1000×28×28 (784 kB), then 4 GiB of zeros in 4096 members of 1 MiB.
  Bytes first = idx_header({1000, 28, 28});
  first.resize(first.size() + 1000 * 28 * 28);
  write_gzip_members(file, first, Bytes(1 << 20), 4096);
  ASSERT_LT(fs::file_size(file), 32u << 20);
  const auto start = std::chrono::steady_clock::now();
  expect_input_error([&] { read_idx(file); },
                     {file, "at least 65536 unexpected bytes after the data the header describes"});
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Inflating all 4 GiB takes several seconds; stopping after the promise takes a fraction.
  EXPECT_LT(seconds, 2.0) << "the reader inflated far past the promised bytes";
}

TEST(IdxLimits, AHeaderPromisingMoreThanTheFileHoldsCommitsOnlyWhatArrives) {
  TemporaryDirectory dir;
  const std::string file = dir.file("liar.idx.gz");
  // Promises 2^31 bytes (2 GiB), which a 4 MB gzip file could hold (deflate expands at most
  // 1032-fold), but only its 4 MiB of incompressible bytes follow: the reader fills its
  // buffer as data arrives and stops there, instead of committing 2 GiB first.
  Bytes first = idx_header({32768, 65536});
  uint32_t state = 12345;
  for (int i = 0; i < (4 << 20); ++i) {
    state = state * 1664525u + 1013904223u;
    first.push_back(uint8_t(state >> 24));
  }
  write_gzip_members(file, first, Bytes(), 0);
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  expect_input_error([&] { read_idx(file); }, {file, "truncated"});
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  // Committing the promise would add 2 GiB; what arrives is 4 MiB. The bound leaves room for
  // allocators that keep freed blocks (AddressSanitizer's quarantine holds up to 256 MiB).
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 1024 * 1024) << "KiB more at peak";
}

// ---- the memory estimate ---------------------------------------------------------------------

Experiment small_experiment(const fs::path& root, const std::string& optimizer) {
  IdxArray images{.dims = {100, 2, 2}, .data = Bytes(400, 7)};
  IdxArray labels{.dims = {100}, .data = Bytes(100, 3)};
  write_idx(root / "images", images);
  write_idx(root / "labels", labels);
  const std::string text = "data:\n  root: " + root.string() +
                           "\n  train: {images: images, labels: labels}\n"
                           "model:\n  input: [4]\n  layers:\n"
                           "    - {dense: 8, activation: relu}\n"
                           "    - {dense: 10, activation: softmax}\n"
                           "trainer: {loss: categorical_crossentropy, batch_size: 10, optimizer: " +
                           optimizer + "}\n";
  return parse_experiment(text, "small.yaml", root);
}

TEST(MemoryEstimate, CountsEachPartAsTheTrainerAllocatesIt) {
  TemporaryDirectory dir;
  const Experiment experiment = small_experiment(dir.path(), "adam");
  const MemoryEstimate estimate = estimate_training_memory(experiment);
  const int64_t weights = 4 * (4 * 8 + 8 + 8 * 10 + 10);
  EXPECT_EQ(estimate.parameters, weights);
  EXPECT_EQ(estimate.optimizer_state, 2 * weights);  // Adam's momentum and velocity
  EXPECT_EQ(estimate.data, 400 + 100);               // the images and the labels
  EXPECT_EQ(estimate.checkpoint, 2 * 3 * weights);
  // The one training plan (100 samples, batch 10: no partial batch, no evaluation data).
  Trainer trainer(experiment);
  EXPECT_EQ(estimate.activations, trainer.training_plan().plan->owned_bytes());
}

TEST(MemoryEstimate, RefusesWithTheFiguresAndTheMemoryAvailable) {
  TemporaryDirectory dir;
  const Experiment experiment = small_experiment(dir.path(), "sgd");
  const MemoryEstimate estimate = estimate_training_memory(experiment);
  EXPECT_EQ(estimate.optimizer_state, 0);  // plain SGD keeps no slots
  expect_fits_in_memory(experiment, estimate, estimate.total());
  expect_input_error([&] { expect_fits_in_memory(experiment, estimate, estimate.total() - 1); },
                     {"small.yaml: the model needs about",
                      "(parameters 520 bytes, optimizer state 0 bytes", "this machine has"});
}

}  // namespace
}  // namespace loom
