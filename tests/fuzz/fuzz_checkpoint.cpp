// libFuzzer target: any bytes as a safetensors checkpoint. Bad input must end in an
// InputError; anything else is a bug. Every tensor the header names is read back.

#include "engine/core/error.hpp"
#include "engine/train/safetensors.hpp"
#include "tests/fuzz/memory_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const loom::fuzzing::MemoryFile file(data, size);
  try {
    const loom::SafetensorsFile checkpoint = loom::SafetensorsFile::read(file.path());
    size_t total = 0;
    for (const std::string& name : checkpoint.names()) total += checkpoint.raw_bytes(name).size();
    (void)total;
  } catch (const loom::InputError&) {
  }
  return 0;
}
