#pragma once
// Where a dataset is and how its labels reach the loss: what the config resolves for the data
// layer, which reads the files.

#include <cstdint>
#include <filesystem>
#include <string>

namespace loom {

struct DatasetSpec {
  std::string format = "idx";
  std::filesystem::path images;
  std::filesystem::path labels;
  int64_t limit = 0;  // use the first `limit` samples (0: all)
  std::string where;  // config position, for messages about the files
};

// How labels are written into a batch: one-hot rows (categorical losses) or class indices
// (sparse_categorical_crossentropy).
enum class LabelEncoding { one_hot, index };

}  // namespace loom
