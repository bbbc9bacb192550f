// The book's convnet (configs/fashion_mnist_convnet.yaml) learns on real Fashion-MNIST.
// One epoch on 6,400 images reached 0.737 test accuracy (seed 42); 0.65 leaves room for
// thread-count rounding while catching a broken convolution, pooling or gradient. The full
// 5-epoch run reaches 0.905 (see the README).

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

#include "tests/support/run_command.hpp"

namespace loom::testing {
namespace {

// history.csv: epoch,loss,accuracy,test_loss,test_accuracy,...
double first_epoch_test_accuracy(const std::string& history_csv) {
  std::ifstream history(history_csv);
  std::string header, row;
  std::getline(history, header);
  std::getline(history, row);
  size_t position = 0;
  for (int comma = 0; comma < 4; ++comma) position = row.find(',', position) + 1;
  return std::stod(row.substr(position));
}

TEST(Convnet, LearnsOnASlice) {
  TemporaryDirectory directory;
  const CommandResult result = run_command(
      trainer_path() + " train " + source_path("configs/fashion_mnist_convnet.yaml") +
      " --set data.train.limit=6400 --set trainer.epochs=1 --out " + directory.file("run"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_GE(first_epoch_test_accuracy(directory.file("run/history.csv")), 0.65);
}

// A convnet with batch normalization between blocked convolutions: its moving statistics
// are weights too, so a checkpoint evaluated later gives exactly the run's own test figures.
const char* kBatchNormConvnet = R"(name: batch_norm_convnet
seed: 5
data:
  root: /usr/share/datasets/fashion-mnist
  train: {images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz, limit: 3200}
  test: {images: t10k-images-idx3-ubyte.gz, labels: t10k-labels-idx1-ubyte.gz, limit: 1000}
  scale: 0.00392156862745098
model:
  input: [28, 28, 1]
  layers:
    - {conv2d: 16, kernel_size: 3, use_bias: false}
    - {batch_norm: {}}
    - {activation: relu}
    - {max_pool2d: 2}
    - {conv2d: 32, kernel_size: 3, activation: relu}
    - {global_avg_pool2d: {}}
    - {dense: 10, activation: softmax}
trainer:
  optimizer: rmsprop
  loss: categorical_crossentropy
  metrics: [accuracy]
  batch_size: 64
  epochs: 1
)";

TEST(Convnet, BatchNormStatisticsTravelWithTheCheckpoint) {
  TemporaryDirectory directory;
  const std::string config = directory.file("bn.yaml");
  std::ofstream(config) << kBatchNormConvnet;
  const CommandResult trained =
      run_command(trainer_path() + " train " + config + " --out " + directory.file("run"));
  ASSERT_EQ(trained.exit_code, 0) << trained.err;
  const double test_accuracy = first_epoch_test_accuracy(directory.file("run/history.csv"));

  const CommandResult evaluated =
      run_command(trainer_path() + " evaluate " + config + " --weights " +
                  directory.file("run/last.safetensors"));
  ASSERT_EQ(evaluated.exit_code, 0) << evaluated.err;
  char expected[64];
  std::snprintf(expected, sizeof expected, "accuracy: %.4f", test_accuracy);
  EXPECT_NE(evaluated.out.find(expected), std::string::npos)
      << "history says " << test_accuracy << "; evaluate printed:\n"
      << evaluated.out;
}

TEST(Convnet, MnistVariantReadsAUserGivenFolder) {
  TemporaryDirectory directory;
  const CommandResult result =
      run_command(trainer_path() + " train " + source_path("configs/mnist_convnet.yaml") +
                  " --set data.root=/usr/share/datasets/fashion-mnist --set data.train.limit=640"
                  " --set data.test.limit=640 --set trainer.epochs=1 --out " +
                  directory.file("run"));
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

}  // namespace
}  // namespace loom::testing
