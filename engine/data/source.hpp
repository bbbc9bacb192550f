#pragma once
// Reading one data source into arrays. Every format's reader (idx.hpp, npy.hpp, csv_source.hpp,
// image_folder.hpp) implements the two functions below for its spec; dataset.cpp dispatches.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/data/sample_array.hpp"
#include "engine/data/source_spec.hpp"

namespace loom {

// What a source yields: the features, the targets (absent for samples to predict), and the
// class names when the source names its classes (CSV string labels, image folders).
struct SourceData {
  SampleArray features;
  std::optional<SampleArray> targets;
  std::vector<std::string> class_names;  // index → name; empty when targets are numbers
};

// What a reader may need to know from the experiment.
struct SourceContext {
  Shape model_input;  // image folders resize to it (its [height, width, channels])
  // The training set's class names: validation, test and predict sets map their labels
  // through them (a label outside them is an error). Empty when reading the training set.
  const std::vector<std::string>* classes = nullptr;
  bool targets_required = true;  // false: samples to predict (targets read if present)
  std::string where;  // config position, for messages
  // The set's `limit` (0: none): a reader whose samples cost work each (decoding an image)
  // may stop after that many; the data set keeps only that many anyway.
  int64_t limit = 0;
};

// What reading will hold, from headers and directory listings alone: the samples (before
// `limit`) and the bytes read into memory (a memory-mapped array counts 0).
struct SourceSize {
  int64_t samples = 0;
  int64_t bytes = 0;
};

}  // namespace loom
