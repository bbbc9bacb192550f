// The idx reader as a data source (idx.hpp).

#include "engine/core/error.hpp"
#include "engine/data/idx.hpp"

namespace loom {

SourceData read_idx_source(const IdxSource& source, const SourceContext& context) {
  SourceData data{.features = read_idx_samples(source.images)};
  if (data.features.sample_shape().empty()) {
    throw InputError(source.images.string() +
                     ": expected images with dimensions [count, ...], got rank 1");
  }
  if (source.labels.empty()) {
    if (context.targets_required) throw InputError(context.where + ": labels: no file given");
    return data;
  }
  SampleArray labels = read_idx_samples(source.labels);
  // One label per sample is a value of shape [1], as the targets of every source are.
  data.targets = labels.sample_shape().empty() ? labels.reshaped({1}) : labels;
  if (data.targets->count() != data.features.count()) {
    throw InputError(source.images.string() + " has " + std::to_string(data.features.count()) +
                     " samples but " + source.labels.string() + " has " +
                     std::to_string(data.targets->count()));
  }
  return data;
}

SourceSize inspect_idx_source(const IdxSource& source) {
  const IdxHeader images = read_idx_header(source.images);
  SourceSize size{.samples = images.dims.empty() ? 0 : images.dims[0], .bytes = images.bytes};
  if (!source.labels.empty()) size.bytes += read_idx_header(source.labels).bytes;
  return size;
}

}  // namespace loom
