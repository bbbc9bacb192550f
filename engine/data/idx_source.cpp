// The idx reader as a data source (idx.hpp).

#include <cstring>

#include "engine/core/error.hpp"
#include "engine/data/idx.hpp"

namespace loom {

namespace {

SampleArray as_samples(IdxArray array) {
  const Shape sample_shape(array.dims.begin() + 1, array.dims.end());
  std::vector<std::byte> bytes(array.data.size());
  std::memcpy(bytes.data(), array.data.data(), array.data.size());
  return SampleArray::owned(ElementType::uint8, sample_shape, std::move(bytes));
}

}  // namespace

SourceData read_idx_source(const IdxSource& source, const SourceContext& context) {
  IdxArray images = read_idx(source.images);
  if (images.dims.size() < 2) {
    throw InputError(source.images.string() +
                     ": expected images with dimensions [count, ...], got rank " +
                     std::to_string(images.dims.size()));
  }
  SourceData data{.features = as_samples(std::move(images))};
  if (source.labels.empty()) {
    if (context.targets_required) throw InputError(context.where + ": labels: no file given");
    return data;
  }
  IdxArray labels = read_idx(source.labels);
  if (labels.dims.size() != 1) {
    throw InputError(source.labels.string() +
                     ": expected labels with dimensions [count], got rank " +
                     std::to_string(labels.dims.size()));
  }
  labels.dims.push_back(1);
  data.targets = as_samples(std::move(labels));
  return data;
}

SourceSize inspect_idx_source(const IdxSource& source) {
  const IdxHeader images = read_idx_header(source.images);
  SourceSize size{.samples = images.dims.empty() ? 0 : images.dims[0], .bytes = images.bytes};
  if (!source.labels.empty()) size.bytes += read_idx_header(source.labels).bytes;
  return size;
}

}  // namespace loom
