// libFuzzer target: any bytes as an idx file (plain or gzip). Bad input must end in an
// InputError; anything else is a bug.

#include "engine/core/error.hpp"
#include "engine/data/idx.hpp"
#include "tests/fuzz/memory_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const loom::fuzzing::MemoryFile file(data, size);
  try {
    const loom::IdxArray array = loom::read_idx(file.path());
    (void)array;
  } catch (const loom::InputError&) {
  }
  return 0;
}
