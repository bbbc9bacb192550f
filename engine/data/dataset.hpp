#pragma once
// A data set ready for batches: its features and targets as read (any element type, owned or
// memory-mapped: see sample_array.hpp), the class names its source gave, and how its samples
// become a batch (the scale, and how targets are encoded for the loss). Subsets (a validation
// split, a K-fold part) are views of the same arrays.

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/core/tensor_type.hpp"
#include "engine/data/dataset_spec.hpp"
#include "engine/data/sample_array.hpp"
#include "engine/data/source.hpp"
#include "engine/data/targets.hpp"

namespace loom {

// How samples become a batch: features times `scale`; targets by `encoding` into `width`
// values per sample (or one class index).
struct BatchFormat {
  float scale = 1.f;
  LabelEncoding encoding = LabelEncoding::dense;
  int64_t width = 0;
};

class Dataset {
 public:
  Dataset(SourceData data, BatchFormat format);

  int64_t size() const { return rows_ ? std::ssize(*rows_) : count_; }
  const Shape& sample_shape() const { return features_.sample_shape(); }
  int64_t sample_size() const { return features_.sample_values(); }
  const SampleArray& features() const { return features_; }
  bool has_targets() const { return targets_.has_value(); }
  const std::vector<std::string>& class_names() const { return *class_names_; }
  const BatchFormat& format() const { return format_; }
  // Where sample `index` of this set is in the arrays.
  int64_t row(int64_t index) const { return rows_ ? (*rows_)[size_t(index)] : first_ + index; }

  // Samples [begin, end), or the samples at `indices`, as a set of their own (no copy).
  Dataset slice(int64_t begin, int64_t end) const;
  Dataset subset(std::span<const int64_t> indices) const;

  // Sample `index`'s features as floats (times the scale) into out[0, sample_size()).
  void features_of(int64_t index, float* out) const {
    features_.to_float(row(index), format_.scale, out);
  }
  // Target value `element` of sample `index` as stored (a class index, a 0/1, a value).
  double target_value(int64_t index, int64_t element = 0) const {
    return targets_->value(row(index), element);
  }
  // Writes sample `index`'s target into a batch's labels at position `slot` (zeros when the
  // set has none).
  void target_of(int64_t index, void* labels, int64_t slot) const;

 private:
  SampleArray features_;
  std::optional<SampleArray> targets_;
  std::shared_ptr<const std::vector<std::string>> class_names_;
  BatchFormat format_;
  int64_t first_ = 0;
  int64_t count_ = 0;
  std::shared_ptr<const std::vector<int64_t>> rows_;  // null: rows first_ .. first_+count_
};

// What a data set is read for.
struct DatasetRequest {
  Shape model_input;
  TargetRequest targets;
  std::optional<double> scale;  // data.scale; absent: 1/255 for uint8 images, else 1
  // The training set's class names (validation, test and predict sets map labels through
  // them); null when reading the training set.
  const std::vector<std::string>* classes = nullptr;
  bool targets_required = true;  // false: samples to predict
};

// Reads a set and checks it: features against the model input (their element count; they
// are seen in its shape), the targets' count and values against the loss (targets.hpp).
Dataset load_dataset(const DatasetSpec& spec, const DatasetRequest& request);
// The checks and the batch format alone, for data read otherwise (spec: its where and limit).
Dataset prepare_dataset(SourceData data, const DatasetSpec& spec, const DatasetRequest& request);

// The scale data.scale leaves to the data: 1/255 for uint8 images (samples of rank 2 or
// more), 1 for everything else (no silent rescaling of tabular data or counts).
double default_scale(const SampleArray& features);

// What load_dataset will hold, from headers alone: the samples it keeps (after `limit`) and
// the bytes it reads into memory.
SourceSize inspect_dataset(const DatasetSpec& spec, const Shape& model_input);

// Writes one batch into a plan's input buffers: features as floats, targets as the set's
// format says. `indices` picks the samples (a shuffled order, or a range).
void gather_batch(const Dataset& dataset, std::span<const uint32_t> indices, float* features,
                  void* labels);

}  // namespace loom
