// A training set larger than the process may allocate trains from a memory-mapped .npy file:
// 1.5 GiB of float32 features under a 1 GiB RLIMIT_DATA (set with prlimit), one epoch of a
// Dense(1) regression. The same array as an idx file, which is read into memory, is refused
// before anything is written. The files are sparse (a header, then ftruncate): no disk is used.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/data/idx.hpp"
#include "tests/support/npy_writer.hpp"
#include "tests/support/rejection.hpp"
#include "tests/support/run_command.hpp"

namespace loom {
namespace {

namespace fs = std::filesystem;
using testing::run_command;
using testing::TemporaryDirectory;

constexpr int64_t kFeatures = 16384;
constexpr int64_t kSamples = 24576;  // × 16384 float32 = 1.5 GiB
constexpr int64_t kDataBytes = kSamples * kFeatures * 4;
constexpr int64_t kDataLimit = int64_t{1} << 30;

// `header`, then `data_bytes` of zeros that the file system stores as a hole.
void write_sparse(const std::string& file, const std::string& header, int64_t data_bytes) {
  testing::write_file(file, header);
  ASSERT_EQ(::truncate(file.c_str(), off_t(int64_t(header.size()) + data_bytes)), 0) << file;
  struct stat status {};
  ASSERT_EQ(::stat(file.c_str(), &status), 0);
  ASSERT_LT(int64_t(status.st_blocks) * 512, int64_t{1} << 20) << file << " is not sparse";
}

// The big-endian idx header of a [samples, features] float32 array.
std::string idx_float_header(int64_t samples, int64_t features) {
  std::string header = {0, 0, 0x0D, 2};
  for (const int64_t dim : {samples, features}) {
    for (int shift = 24; shift >= 0; shift -= 8) header.push_back(char((dim >> shift) & 0xff));
  }
  return header;
}

std::string config(const std::string& train) {
  return "name: larger_than_memory\n"
         "seed: 1\n"
         "data:\n"
         "  train: " +
         train +
         "\n"
         "model:\n"
         "  input: [" +
         std::to_string(kFeatures) +
         "]\n"
         "  layers:\n"
         "    - {dense: 1}\n"
         "trainer:\n"
         "  optimizer: sgd\n"
         "  loss: mse\n"
         "  batch_size: 256\n"
         "  epochs: 1\n";
}

std::string train_limited(const std::string& config_file, const std::string& out) {
  return "prlimit --data=" + std::to_string(kDataLimit) + " " + testing::trainer_path() +
         " train " + config_file + " --out " + out;
}

TEST(NpyTraining, ALargerThanMemoryNpyFileTrainsWhileTheSameIdxIsRefused) {
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer reserves terabytes of writable shadow memory, which RLIMIT_DATA counts:
  // no process starts under the limit.
  GTEST_SKIP() << "RLIMIT_DATA cannot be set under AddressSanitizer";
#endif
  TemporaryDirectory dir;
  write_sparse(dir.file("x.npy"),
               testing::npy_header(
                   "<f4", "(" + std::to_string(kSamples) + ", " + std::to_string(kFeatures) + ")"),
               kDataBytes);
  std::vector<float> targets;
  for (int64_t i = 0; i < kSamples; ++i) targets.push_back(float(i % 7) * 0.25f);
  testing::write_file(dir.file("y.npy"),
                      testing::npy_header("<f4", "(" + std::to_string(kSamples) + ",)") +
                          testing::bytes_of(targets));
  testing::write_file(dir.file("npy.yaml"), config("{format: npy, features: " + dir.file("x.npy") +
                                                   ", targets: " + dir.file("y.npy") + "}"));
  const testing::CommandResult trained =
      run_command(train_limited(dir.file("npy.yaml"), dir.file("npy_run")));
  ASSERT_EQ(trained.exit_code, 0) << trained.err << trained.out;
  EXPECT_NE(trained.out.find("Epoch 1/1"), std::string::npos) << trained.out;
  EXPECT_TRUE(fs::exists(dir.file("npy_run/history.csv")));

  write_sparse(dir.file("x.idx"), idx_float_header(kSamples, kFeatures), kDataBytes);
  std::vector<uint8_t> target_bytes(targets.size() * 4);
  std::memcpy(target_bytes.data(), targets.data(), target_bytes.size());
  write_idx(dir.file("y.idx"),
            IdxArray{.dims = {kSamples}, .data = target_bytes, .type = ElementType::float32});
  testing::write_file(dir.file("idx.yaml"), config("{format: idx, images: " + dir.file("x.idx") +
                                                   ", labels: " + dir.file("y.idx") + "}"));
  const testing::CommandResult refused =
      run_command(train_limited(dir.file("idx.yaml"), dir.file("idx_run")));
  ASSERT_TRUE(testing::expect_one_error_line(refused)) << refused.out;
  EXPECT_NE(refused.err.find("available"), std::string::npos) << refused.err;
  EXPECT_FALSE(fs::exists(dir.file("idx_run")));
}

}  // namespace
}  // namespace loom
