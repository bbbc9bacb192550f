// libFuzzer target: any bytes as a .npy file and as a .npz archive (arrays "x" and "y"). Bad
// input must end in an InputError; an array that is accepted is read whole, so a view reaching
// past its mapping or buffer shows up under AddressSanitizer. Anything else is a bug.

#include <vector>

#include "engine/core/error.hpp"
#include "engine/data/npy.hpp"
#include "tests/fuzz/memory_file.hpp"

namespace {

void read_all(const loom::SampleArray& array) {
  std::vector<float> sample(size_t(array.sample_values()));
  for (int64_t i = 0; i < array.count(); ++i) array.to_float(i, 1.f, sample.data());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const loom::fuzzing::MemoryFile file(data, size);
  const loom::SourceContext context{.targets_required = false, .where = "fuzz"};
  try {
    read_all(loom::read_npy_source({.features = file.path(), .targets = {}}, context).features);
  } catch (const loom::InputError&) {
  }
  try {
    loom::inspect_npz_source({.file = file.path(), .features = "x", .targets = "y"});
    const loom::SourceData arrays =
        loom::read_npz_source({.file = file.path(), .features = "x", .targets = "y"}, context);
    read_all(arrays.features);
    read_all(*arrays.targets);
  } catch (const loom::InputError&) {
  }
  return 0;
}
