#include "engine/data/dataset.hpp"

#include <algorithm>
#include <cstring>

#include "engine/core/error.hpp"
#include "engine/data/idx.hpp"

namespace loom {

Dataset::Dataset(std::vector<uint8_t> images, std::vector<uint8_t> labels, Shape sample_shape)
    : images_(std::move(images)),
      labels_(std::move(labels)),
      sample_shape_(std::move(sample_shape)),
      sample_size_(numel(sample_shape_)) {}

Dataset Dataset::slice(int64_t begin, int64_t end) const {
  std::vector<uint8_t> images(images_.begin() + begin * sample_size_,
                              images_.begin() + end * sample_size_);
  std::vector<uint8_t> labels(labels_.begin() + begin, labels_.begin() + end);
  return Dataset(std::move(images), std::move(labels), sample_shape_);
}

namespace {

// The files' dimensions against each other and against the model; returns one sample's shape.
Shape check_dimensions(const DatasetSpec& spec, const std::vector<int64_t>& images,
                       const std::vector<int64_t>& labels, const Shape& model_input) {
  const std::string images_name = spec.images.string();
  const std::string labels_name = spec.labels.string();
  if (images.size() < 2) {
    throw InputError(images_name + ": expected images with dimensions [count, ...], got rank " +
                     std::to_string(images.size()));
  }
  if (labels.size() != 1) {
    throw InputError(labels_name + ": expected labels with dimensions [count], got rank " +
                     std::to_string(labels.size()));
  }
  if (images[0] != labels[0]) {
    throw InputError(spec.where + ": " + images_name + " has " + std::to_string(images[0]) +
                     " images but " + labels_name + " has " + std::to_string(labels[0]) +
                     " labels");
  }
  const Shape sample_shape(images.begin() + 1, images.end());
  if (numel(sample_shape) != numel(model_input)) {
    throw InputError(spec.where + ": " + images_name + ": the images are " +
                     to_string(sample_shape) + " (" + std::to_string(numel(sample_shape)) +
                     " values) but the model input is " + to_string(model_input) + " (" +
                     std::to_string(numel(model_input)) + ")");
  }
  return sample_shape;
}

}  // namespace

DatasetSize inspect_dataset(const DatasetSpec& spec, const Shape& model_input) {
  const IdxHeader images = read_idx_header(spec.images);
  const IdxHeader labels = read_idx_header(spec.labels);
  check_dimensions(spec, images.dims, labels.dims, model_input);
  const int64_t count = images.dims[0];
  return {.samples = spec.limit > 0 && spec.limit < count ? spec.limit : count,
          .bytes = images.bytes + labels.bytes};
}

Dataset load_dataset(const DatasetSpec& spec, const Shape& model_input, int64_t classes) {
  IdxArray images = read_idx(spec.images);
  IdxArray labels = read_idx(spec.labels);
  const std::string labels_name = spec.labels.string();
  const Shape sample_shape = check_dimensions(spec, images.dims, labels.dims, model_input);
  for (size_t i = 0; i < labels.data.size(); ++i) {
    if (labels.data[i] >= classes) {
      throw InputError(spec.where + ": " + labels_name + ": label " +
                       std::to_string(labels.data[i]) + " of sample " + std::to_string(i) +
                       " is out of range for a model with " + std::to_string(classes) + " classes");
    }
  }
  int64_t count = images.dims[0];
  if (spec.limit > 0 && spec.limit < count) {
    count = spec.limit;
    images.data.resize(static_cast<size_t>(count * numel(sample_shape)));
    labels.data.resize(static_cast<size_t>(count));
  }
  return Dataset(std::move(images.data), std::move(labels.data), sample_shape);
}

Dataset load_unlabelled_images(const std::filesystem::path& images_file, const Shape& model_input) {
  IdxArray images = read_idx(images_file);
  if (images.dims.size() < 2 ||
      numel(Shape(images.dims.begin() + 1, images.dims.end())) != numel(model_input)) {
    throw InputError(images_file.string() + ": expected images of " +
                     std::to_string(numel(model_input)) + " values each");
  }
  const Shape sample_shape(images.dims.begin() + 1, images.dims.end());
  const int64_t count = images.dims[0];
  return Dataset(std::move(images.data), std::vector<uint8_t>(size_t(count), 0), sample_shape);
}

void gather_batch(const Dataset& dataset, std::span<const uint32_t> indices, float scale,
                  const BatchTarget& target) {
  const int64_t sample_size = dataset.sample_size();
  const auto count = static_cast<int64_t>(indices.size());
#pragma omp parallel for if (count * sample_size > (1 << 16))
  for (int64_t b = 0; b < count; ++b) {
    const uint8_t* pixels = dataset.image(indices[size_t(b)]).data();
    float* row = target.images + b * sample_size;
#pragma omp simd
    for (int64_t i = 0; i < sample_size; ++i) row[i] = float(pixels[i]) * scale;
  }
  const std::span<const uint8_t> labels = dataset.labels();
  if (target.encoding == LabelEncoding::index) {
    auto* out = static_cast<int32_t*>(target.labels);
    for (int64_t b = 0; b < count; ++b) out[b] = labels[indices[size_t(b)]];
  } else {
    auto* out = static_cast<float*>(target.labels);
    std::fill(out, out + count * target.classes, 0.f);
    for (int64_t b = 0; b < count; ++b) out[b * target.classes + labels[indices[size_t(b)]]] = 1.f;
  }
}

}  // namespace loom
