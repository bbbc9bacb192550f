// libFuzzer target: a valid checkpoint of a tiny run with fuzzer-chosen metadata values and
// tensor elements, sealed with a correct checksum (so the fuzzer gets past it), given to
// Trainer::resume. The contract: accepted or InputError; an accepted position then trains to
// the end of the run (two epochs of four steps) without crashing or hanging, a non-finite
// loss being the only other acceptable outcome.
//
// The input is lines of edits applied to the good checkpoint:
//   key=value          sets metadata entry `key` (any key: "epoch", "history", "x", ...)
//   @tensor#index=v    sets element index (modulo the tensor's size) of a tensor: a float
//                      for F32 ("nan", "-inf", "1e30"), an unsigned integer for U32
//   -key               removes metadata entry `key`

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "engine/config/experiment.hpp"
#include "engine/core/error.hpp"
#include "engine/data/idx.hpp"
#include "engine/train/safetensors.hpp"
#include "engine/train/trainer.hpp"
#include "tests/fuzz/memory_file.hpp"

namespace {

namespace fs = std::filesystem;

class QuietProgress final : public loom::ProgressReporter {
 public:
  void epoch_begin(int64_t, int64_t, int64_t, std::span<const std::string>) override {}
  void step_end(int64_t, double, std::span<const double>) override {}
  void epoch_end(const loom::EpochRecord&) override {}
};

// The tiny run: 8 samples of 2x2 pixels, batches of 2, 2 epochs; a schedule with state and
// early stopping with best weights, so every kind of field is in its checkpoint.
struct Fixture {
  fs::path directory;
  std::unique_ptr<loom::Trainer> trainer;
  std::unique_ptr<loom::SafetensorsFile> good;

  Fixture() {
    char pattern[] = "/tmp/loom-fuzz-XXXXXX";
    directory = mkdtemp(pattern);
    const auto write = [&](const std::string& name, std::vector<int64_t> dims) {
      loom::IdxArray array{.dims = dims, .data = {}};
      int64_t count = 1;
      for (int64_t d : dims) count *= d;
      for (int64_t i = 0; i < count; ++i) {
        array.data.push_back(uint8_t(dims.size() == 1 ? i % 10 : i * 37));
      }
      loom::write_idx(directory / name, array);
    };
    write("train-images", {8, 2, 2});
    write("train-labels", {8});
    write("test-images", {4, 2, 2});
    write("test-labels", {4});
    const std::string config =
        "seed: 1\n"
        "data:\n"
        "  train: {format: idx, images: train-images, labels: train-labels}\n"
        "  test: {format: idx, images: test-images, labels: test-labels}\n"
        "model:\n  input: [4]\n  layers:\n    - {dense: 10, activation: softmax}\n"
        "trainer:\n"
        "  optimizer: {rmsprop: {learning_rate: {reduce_on_plateau: "
        "{initial_learning_rate: 0.01, monitor: loss, patience: 1, cooldown: 2}}}}\n"
        "  loss: sparse_categorical_crossentropy\n  metrics: [accuracy]\n"
        "  batch_size: 2\n  epochs: 2\n"
        "  callbacks:\n"
        "    early_stopping: {monitor: loss, patience: 5, restore_best_weights: true}\n";
    trainer = std::make_unique<loom::Trainer>(
        loom::parse_experiment(config, "fuzz.yaml", directory.string()));
    QuietProgress progress;
    trainer->fit(progress);  // a finished run: every field has a value worth editing
    trainer->save_checkpoint(directory / "good.safetensors", trainer->position());
    good = std::make_unique<loom::SafetensorsFile>(
        loom::SafetensorsFile::read(directory / "good.safetensors"));
  }
  ~Fixture() { fs::remove_all(directory); }
};

void set_element(std::vector<std::byte>& bytes, const std::string& dtype, const std::string& index,
                 const std::string& value) {
  const size_t size = bytes.size() / 4;
  if (size == 0) return;
  const size_t at = std::strtoull(index.c_str(), nullptr, 10) % size;
  if (dtype == "F32") {
    const float number = std::strtof(value.c_str(), nullptr);
    std::memcpy(bytes.data() + at * 4, &number, 4);
  } else {
    const auto number = uint32_t(std::strtoull(value.c_str(), nullptr, 10));
    std::memcpy(bytes.data() + at * 4, &number, 4);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Fixture fixture;
  std::map<std::string, std::string> metadata = fixture.good->metadata();
  std::vector<loom::TensorBytes> tensors;
  std::vector<std::vector<std::byte>> storage;
  for (const std::string& name : fixture.good->names()) {
    loom::TensorBytes tensor = fixture.good->tensor(name);
    storage.emplace_back(tensor.data.begin(), tensor.data.end());
    tensors.push_back(tensor);
  }
  std::istringstream edits(std::string(reinterpret_cast<const char*>(data), size));
  for (std::string line; std::getline(edits, line);) {
    if (line.starts_with("-")) {
      metadata.erase(line.substr(1));
      continue;
    }
    const size_t equals = line.find('=');
    if (equals == std::string::npos) continue;
    const std::string key = line.substr(0, equals), value = line.substr(equals + 1);
    const size_t hash = key.find('#');
    if (key.starts_with("@") && hash != std::string::npos) {
      for (size_t i = 0; i < tensors.size(); ++i) {
        if (tensors[i].name == key.substr(1, hash - 1)) {
          set_element(storage[i], tensors[i].dtype, key.substr(hash + 1), value);
        }
      }
    } else {
      metadata[key] = value;
    }
  }
  for (size_t i = 0; i < tensors.size(); ++i) tensors[i].data = storage[i];
  const std::string bytes = loom::safetensors_bytes(tensors, metadata);
  const loom::fuzzing::MemoryFile file(reinterpret_cast<const uint8_t*>(bytes.data()),
                                       bytes.size());
  try {
    fixture.trainer->resume(file.path());
  } catch (const loom::InputError&) {
    return 0;  // refused with a message: what a bad position must get
  }
  try {
    QuietProgress progress;
    fixture.trainer->fit(progress);
  } catch (const loom::NonFiniteError&) {
    // Finite but huge weights can overflow the loss: the run stops as it would have.
  }
  return 0;
}
