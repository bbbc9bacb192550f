#pragma once
// A labelled image dataset held as the bytes it was stored in (uint8): 60,000 Fashion-MNIST
// images take 47 MB this way instead of 188 MB as floats. Batches are converted on the fly.

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include "engine/core/tensor_type.hpp"
#include "engine/data/dataset_spec.hpp"

namespace loom {

class Dataset {
 public:
  Dataset(std::vector<uint8_t> images, std::vector<uint8_t> labels, Shape sample_shape);

  int64_t size() const { return static_cast<int64_t>(labels_.size()); }
  const Shape& sample_shape() const { return sample_shape_; }
  int64_t sample_size() const { return sample_size_; }
  std::span<const uint8_t> labels() const { return labels_; }
  // Samples [begin, end) as a dataset of their own (a copy: validation_split splits once).
  Dataset slice(int64_t begin, int64_t end) const;

  std::span<const uint8_t> image(int64_t index) const {
    return {images_.data() + index * sample_size_, static_cast<size_t>(sample_size_)};
  }

 private:
  std::vector<uint8_t> images_;
  std::vector<uint8_t> labels_;
  Shape sample_shape_;
  int64_t sample_size_;
};

// Reads images and labels, checking that they agree with each other and with the model:
// the sample's element count must equal the model input's, labels must be < classes.
Dataset load_dataset(const DatasetSpec& spec, const Shape& model_input, int64_t classes);

// Images without labels (samples to predict) from an idx file: dimensions [count, ...] whose
// samples hold as many values as the model input; every label is 0. InputError
// "<file>: expected images of <n> values each" otherwise.
Dataset load_unlabelled_images(const std::filesystem::path& images, const Shape& model_input);

// What load_dataset will hold, from the files' headers alone (checked as load_dataset checks
// them): the samples it keeps (after `limit`) and the bytes it reads. Allocates nothing large.
struct DatasetSize {
  int64_t samples = 0;
  int64_t bytes = 0;
};
DatasetSize inspect_dataset(const DatasetSpec& spec, const Shape& model_input);

// Writes one batch into a plan's input buffers: pixels scaled to float, labels as one-hot
// rows or class indices. `indices` picks the samples (a shuffled order, or a range).
struct BatchTarget {
  float* images;
  void* labels;
  LabelEncoding encoding;
  int64_t classes;
};
void gather_batch(const Dataset& dataset, std::span<const uint32_t> indices, float scale,
                  const BatchTarget& target);

}  // namespace loom
