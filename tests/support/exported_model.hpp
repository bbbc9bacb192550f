#pragma once
// A small trained run for the model-file and inference-API tests: 96 uint8 4×4 grayscale
// images (so `scale: auto` is 1/255) in two classes by brightness, trained by the trainer
// tool from `data/` (which a test may delete to show the model needs no training data), with
// the same samples outside data/ to predict on: u8.npy, f32.npy (the same values as floats)
// and labels.npy.

#include <cstdint>
#include <string>
#include <vector>

#include "tests/support/run_command.hpp"

namespace loom::testing {

struct ExportedRun {
  ExportedRun();
  // `trainer ARGUMENTS`.
  CommandResult trainer(const std::string& arguments) const;

  TemporaryDirectory directory;
  std::vector<uint8_t> images;  // 96 × 16, row-major
  std::vector<int32_t> labels;
  std::string run = directory.file("run");
  std::string model = directory.file("model.loom");  // written by the tests that export
};

}  // namespace loom::testing
