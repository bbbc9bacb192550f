// libFuzzer target: any bytes as an experiment file. Bad input must end in an InputError
// (the trainer's exit code 2); any other exception, a crash or a sanitizer report is a bug.

#include <cstddef>
#include <cstdint>
#include <string>

#include "engine/config/experiment.hpp"
#include "engine/core/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    loom::parse_experiment(text, "fuzz.yaml", "/usr/share/datasets/fashion-mnist");
  } catch (const loom::InputError&) {
    // Rejected with a message: what bad input must get.
  }
  return 0;
}
