#pragma once
// Where a data set is and how to read it: what the config resolves for the data layer, which
// reads the files (the formats are in source_spec.hpp).

#include <cstdint>
#include <filesystem>
#include <string>

#include "engine/data/source_spec.hpp"

namespace loom {

struct DatasetSpec {
  DataSource source;
  int64_t limit = 0;  // use the first `limit` samples (0: all)
  std::string where;  // config position, for messages about the files
};

// How targets are written into a batch: class indices (sparse_categorical_crossentropy),
// one-hot rows made from class indices, or the target values themselves as float rows
// (one-hot or k-hot targets, binary 0/1, regression values).
enum class LabelEncoding { index, one_hot, dense };

}  // namespace loom
