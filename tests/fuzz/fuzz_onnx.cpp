// libFuzzer target: any bytes as an ONNX model file. Bad input must end in an InputError (a
// protobuf that does not parse, a graph the checker or the importer refuses); a model that
// imports has its every node's shape inferred by the engine on the way. Anything else is a bug.

#include "engine/core/error.hpp"
#include "engine/onnx/onnx_import.hpp"
#include "tests/fuzz/memory_file.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const loom::fuzzing::MemoryFile file(data, size);
  try {
    loom::import_onnx(file.path());
  } catch (const loom::InputError&) {
  }
  return 0;
}
