#include "engine/data/dataset.hpp"

#include <algorithm>
#include <cstring>

#include "engine/core/error.hpp"
#include "engine/data/csv_source.hpp"
#include "engine/data/idx.hpp"
#include "engine/data/image_folder.hpp"
#include "engine/data/npy.hpp"

namespace loom {

Dataset::Dataset(SourceData data, BatchFormat format)
    : features_(std::move(data.features)),
      targets_(std::move(data.targets)),
      class_names_(std::make_shared<const std::vector<std::string>>(std::move(data.class_names))),
      format_(format),
      count_(features_.count()) {}

Dataset Dataset::slice(int64_t begin, int64_t end) const {
  Dataset part = *this;
  if (rows_) {
    part.rows_ =
        std::make_shared<const std::vector<int64_t>>(rows_->begin() + begin, rows_->begin() + end);
  } else {
    part.first_ = first_ + begin;
    part.count_ = end - begin;
  }
  return part;
}

Dataset Dataset::subset(std::span<const int64_t> indices) const {
  Dataset part = *this;
  auto rows = std::make_shared<std::vector<int64_t>>();
  rows->reserve(indices.size());
  for (int64_t index : indices) rows->push_back(row(index));
  part.rows_ = std::move(rows);
  return part;
}

void Dataset::target_of(int64_t index, void* labels, int64_t slot) const {
  const int64_t width = format_.width;
  if (format_.encoding == LabelEncoding::index) {
    static_cast<int32_t*>(labels)[slot] =
        targets_ ? static_cast<int32_t>(targets_->value(row(index), 0)) : 0;
    return;
  }
  float* out = static_cast<float*>(labels) + slot * width;
  if (!targets_) {
    std::fill(out, out + width, 0.f);
  } else if (format_.encoding == LabelEncoding::one_hot) {
    std::fill(out, out + width, 0.f);
    out[static_cast<int64_t>(targets_->value(row(index), 0))] = 1.f;
  } else {
    targets_->to_float(row(index), 1.f, out);
  }
}

namespace {

SourceData read_source(const DatasetSpec& spec, const SourceContext& context) {
  struct Read {
    const SourceContext& context;
    SourceData operator()(const IdxSource& s) const { return read_idx_source(s, context); }
    SourceData operator()(const NpySource& s) const { return read_npy_source(s, context); }
    SourceData operator()(const NpzSource& s) const { return read_npz_source(s, context); }
    SourceData operator()(const CsvSource& s) const { return read_csv_source(s, context); }
    SourceData operator()(const ImageFolderSource& s) const {
      if (!context.targets_required) return read_images_to_predict(s.directory, context);
      return read_image_folder(s, context);
    }
  };
  return std::visit(Read{context}, spec.source);
}

// The features' element count against the model input's; they are seen in its shape.
void fit_to_model(SourceData& data, const DatasetSpec& spec, const Shape& model_input) {
  const SampleArray& features = data.features;
  if (features.sample_values() != numel(model_input)) {
    throw InputError(spec.where + ": " + source_files(spec.source).features + ": the samples are " +
                     to_string(features.sample_shape()) + " (" +
                     std::to_string(features.sample_values()) + " values) but the model input is " +
                     to_string(model_input) + " (" + std::to_string(numel(model_input)) + ")");
  }
  data.features = features.reshaped(model_input);
  if (data.targets && data.targets->count() != features.count()) {
    throw InputError(spec.where + ": " + source_files(spec.source).features + " has " +
                     std::to_string(features.count()) + " samples but " +
                     source_files(spec.source).targets + " has " +
                     std::to_string(data.targets->count()) + " targets");
  }
  if (spec.limit > 0 && spec.limit < features.count()) {
    data.features = data.features.first(spec.limit);
    if (data.targets) data.targets = data.targets->first(spec.limit);
  }
}

}  // namespace

double default_scale(const SampleArray& features) {
  const bool image = features.type() == ElementType::uint8 && features.sample_shape().size() >= 2;
  return image ? 1.0 / 255.0 : 1.0;
}

Dataset load_dataset(const DatasetSpec& spec, const DatasetRequest& request) {
  const SourceContext context{.model_input = request.model_input,
                              .classes = request.classes,
                              .targets_required = request.targets_required,
                              .where = spec.where,
                              .limit = spec.limit};
  return prepare_dataset(read_source(spec, context), spec, request);
}

Dataset prepare_dataset(SourceData data, const DatasetSpec& spec, const DatasetRequest& request) {
  const double stored_scale = default_scale(data.features);
  fit_to_model(data, spec, request.model_input);
  if (request.targets_required && !data.targets) {
    throw InputError(spec.where + ": the set has no targets; training and evaluation need them");
  }
  BatchFormat format{.scale = float(request.scale.value_or(stored_scale)),
                     .width = request.targets.width};
  if (data.targets) {
    format.encoding = check_targets(*data.targets, request.targets,
                                    spec.where + ": " + source_files(spec.source).targets);
  } else {
    format.encoding = request.targets.family == TargetFamily::class_index ? LabelEncoding::index
                                                                          : LabelEncoding::dense;
  }
  if (data.class_names.empty() && request.classes) data.class_names = *request.classes;
  return Dataset(std::move(data), format);
}

SourceSize inspect_dataset(const DatasetSpec& spec, const Shape& model_input) {
  struct Inspect {
    const Shape& model_input;
    SourceSize operator()(const IdxSource& s) const { return inspect_idx_source(s); }
    SourceSize operator()(const NpySource& s) const { return inspect_npy_source(s); }
    SourceSize operator()(const NpzSource& s) const { return inspect_npz_source(s); }
    SourceSize operator()(const CsvSource& s) const { return inspect_csv_source(s); }
    SourceSize operator()(const ImageFolderSource& s) const {
      return inspect_image_folder(s, model_input);
    }
  };
  SourceSize size = std::visit(Inspect{model_input}, spec.source);
  if (spec.limit > 0 && spec.limit < size.samples) size.samples = spec.limit;
  return size;
}

void gather_batch(const Dataset& dataset, std::span<const uint32_t> indices, float* features,
                  void* labels) {
  const int64_t sample_size = dataset.sample_size();
  const auto count = static_cast<int64_t>(indices.size());
#pragma omp parallel for if (count * sample_size > (1 << 16))
  for (int64_t b = 0; b < count; ++b) {
    dataset.features_of(indices[size_t(b)], features + b * sample_size);
  }
  for (int64_t b = 0; b < count; ++b) dataset.target_of(indices[size_t(b)], labels, b);
}

}  // namespace loom
