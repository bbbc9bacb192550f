// libFuzzer target: any bytes as a CSV source (plain or gzip). The first byte picks the
// options (header, delimiter, which columns are targets, given class names, training or
// validation set), the rest is the file. Bad input must end in an InputError; anything else
// is a bug.

#include <string>
#include <vector>

#include "engine/core/error.hpp"
#include "engine/data/csv_source.hpp"
#include "tests/fuzz/memory_file.hpp"

namespace {

loom::ColumnSelector selector(const std::string& text, int64_t first, bool range = false) {
  return loom::ColumnSelector{.text = text,
                              .name = first == 0 && !range ? text : "",
                              .first = first,
                              .is_range = range,
                              .open_end = range,
                              .where = "fuzz"};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t options = data[0];
  const loom::fuzzing::MemoryFile file(data + 1, size - 1);
  loom::CsvSource csv{.file = file.path()};
  csv.header = options & 1;
  csv.skip_rows = (options >> 1) & 1;
  csv.delimiter = (options & 4) ? ';' : ',';
  csv.targets = {(options & 8) && csv.header ? selector("y", 0) : selector("-1", -1)};
  if (options & 16) csv.features = {selector("0:", 0, true)};  // overlaps the target
  if (options & 32) csv.class_names = {"a", "b"};
  const std::vector<std::string> training = {"0", "b", "c"};
  const loom::SourceContext context{.classes = (options & 64) ? &training : nullptr,
                                    .targets_required = !(options & 128),
                                    .where = "fuzz"};
  try {
    const loom::SourceData read = loom::read_csv_source(csv, context);
    (void)read;
  } catch (const loom::InputError&) {
  }
  try {
    (void)loom::inspect_csv_source(csv);
  } catch (const loom::InputError&) {
  }
  return 0;
}
