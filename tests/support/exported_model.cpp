#include "tests/support/exported_model.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/support/npy_writer.hpp"

namespace loom::testing {

ExportedRun::ExportedRun() {
  for (int i = 0; i < 96; ++i) {
    const bool bright = i % 2 == 0;
    for (int p = 0; p < 16; ++p) images.push_back(uint8_t((bright ? 160 : 40) + (i * 7 + p) % 60));
    labels.push_back(bright ? 1 : 0);
  }
  std::filesystem::create_directory(directory.file("data"));
  write_file(directory.file("data/x.npy"), npy_header("|u1", "(96, 4, 4, 1)") + bytes_of(images));
  write_file(directory.file("data/y.npy"), npy_header("<i4", "(96,)") + bytes_of(labels));
  std::ofstream(directory.file("config.yaml"))
      << "name: tiny\nseed: 1\n"
         "data: {root: data, train: {format: npy, features: x.npy, targets: y.npy}}\n"
         "model:\n  input: [4, 4, 1]\n  layers:\n    - {flatten: {}}\n"
         "    - {dense: 8, activation: relu}\n    - {dense: 2, activation: softmax}\n"
         "trainer: {optimizer: {adam: {learning_rate: 0.01}}, loss: "
         "sparse_categorical_crossentropy, metrics: [accuracy], batch_size: 16, epochs: 20}\n";
  const CommandResult trained = trainer("train " + directory.file("config.yaml") + " --out " + run);
  EXPECT_EQ(trained.exit_code, 0) << trained.err;
  write_file(directory.file("u8.npy"), npy_header("|u1", "(96, 4, 4, 1)") + bytes_of(images));
  const std::vector<float> as_floats(images.begin(), images.end());
  write_file(directory.file("f32.npy"), npy_header("<f4", "(96, 4, 4, 1)") + bytes_of(as_floats));
  write_file(directory.file("labels.npy"), npy_header("<i4", "(96,)") + bytes_of(labels));
}

CommandResult ExportedRun::trainer(const std::string& arguments) const {
  return run_command(trainer_path() + " " + arguments);
}

}  // namespace loom::testing
