#include "engine/data/npy.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include "engine/core/error.hpp"
#include "engine/core/join_names.hpp"
#include "engine/core/mapped_file.hpp"
#include "engine/core/memory.hpp"
#include "engine/data/byte_order.hpp"
#include "engine/data/npy_header.hpp"
#include "engine/data/zip_archive.hpp"

namespace loom {

namespace {

constexpr std::string_view kNpySuffix = ".npy";

// Dimension 0 counts the samples; the rest is each sample's shape as stored. A 1-D array holds
// one value per sample, of shape [1] as in every source.
Shape sample_shape_of(const NpyHeader& header, const std::string& name) {
  if (header.shape.empty()) {
    throw InputError(name +
                     ": the array is a single value (shape ()), not samples: its first "
                     "dimension must count the samples");
  }
  if (header.shape[0] == 0)
    throw InputError(name + ": the array has no samples (shape " + numpy_shape_text(header.shape) +
                     ")");
  if (std::ranges::count(header.shape, 0) > 0) {
    throw InputError(name + ": every sample is empty (shape " + numpy_shape_text(header.shape) +
                     ")");
  }
  if (header.shape.size() == 1) return {1};
  return Shape(header.shape.begin() + 1, header.shape.end());
}

// The array whose .npy bytes are `npy` (a mapped file, a stored archive member): seen in place,
// kept alive by `keeper`, when it is in native byte order; otherwise copied and swapped into
// memory of its own, which must fit in the memory available.
SampleArray samples_in(std::span<const std::byte> npy, const NpyHeader& header,
                       std::shared_ptr<const void> keeper, const std::string& name) {
  Shape sample_shape = sample_shape_of(header, name);
  const std::byte* data = npy.data() + header.data_offset;
  if (!header.big_endian) {
    return SampleArray(header.type, std::move(sample_shape), header.shape[0], data,
                       std::move(keeper));
  }
  if (const int64_t memory = available_memory_bytes(); header.data_bytes > memory) {
    throw InputError(name + ": the big-endian array (" + header.descr +
                     ") is converted in memory: " + format_bytes(header.data_bytes) +
                     ", and this machine has " + format_bytes(memory) +
                     " available (save it little-endian: "
                     "a.astype(a.dtype.newbyteorder('<')), and it is memory-mapped instead)");
  }
  std::vector<std::byte> bytes(data, data + header.data_bytes);
  reverse_element_bytes(bytes.data(), header.data_bytes / element_bytes(header.type),
                        element_bytes(header.type));
  return SampleArray::owned(header.type, std::move(sample_shape), std::move(bytes));
}

// A .npy file, memory-mapped.
SampleArray read_npy_file(const std::filesystem::path& file) {
  std::shared_ptr<const MappedFile> mapping = MappedFile::open(file, "data file");
  const std::string name = file.string();
  const NpyHeader header = parse_whole_npy(mapping->bytes(), name);
  return samples_in(mapping->bytes(), header, mapping, name);
}

// The header and what reading the file will hold in memory (0 for a mapped array).
SourceSize inspect_npy_file(const std::filesystem::path& file) {
  std::shared_ptr<const MappedFile> mapping =
      MappedFile::open(file, "data file", MappedFile::Use::headers);
  const NpyHeader header = parse_whole_npy(mapping->bytes(), file.string());
  sample_shape_of(header, file.string());
  return {header.shape[0], header.big_endian ? header.data_bytes : 0};
}

void check_counts(const SampleArray& features, const SampleArray& targets,
                  const std::string& features_name, const std::string& targets_name) {
  if (features.count() != targets.count()) {
    throw InputError(features_name + " has " + std::to_string(features.count()) + " samples but " +
                     targets_name + " has " + std::to_string(targets.count()));
  }
}

[[noreturn]] void missing_targets(const SourceContext& context) {
  throw InputError(context.where +
                   ": no targets given: this data set needs targets to train "
                   "or evaluate on (add 'targets:')");
}

// The member holding array `key` ("x_train" or "x_train.npy"), or an error listing the arrays.
const ZipMember& find_array(const ZipArchive& archive, const std::string& key) {
  if (const ZipMember* member = archive.find(key + std::string(kNpySuffix))) return *member;
  if (const ZipMember* member = archive.find(key); member && key.ends_with(kNpySuffix)) {
    return *member;
  }
  std::vector<std::string> keys;
  for (const ZipMember& member : archive.members()) {
    if (member.name.ends_with(kNpySuffix)) {
      keys.push_back(member.name.substr(0, member.name.size() - kNpySuffix.size()));
    }
  }
  throw InputError(archive.name() + ": no array '" + key +
                   "' (arrays: " + (keys.empty() ? std::string("none") : join_names(keys)) + ")");
}

std::string array_name(const ZipArchive& archive, const std::string& key) {
  return archive.name() + ": array '" + key + "'";
}

// Array `key` of the archive: a stored member is seen in place in the archive's mapping, a
// deflated one inflated into memory of its own (which the array then views).
SampleArray read_npz_array(const ZipArchive& archive, const std::string& key) {
  const ZipMember& member = find_array(archive, key);
  const std::string name = array_name(archive, key);
  if (!member.deflated) {
    const std::span<const std::byte> bytes = archive.stored_bytes(member);
    const NpyHeader header = parse_whole_npy(bytes, name);
    return samples_in(bytes, header, archive.mapping(), name);
  }
  auto bytes = std::make_shared<std::vector<std::byte>>(archive.extract(member, member.size));
  const NpyHeader header = parse_whole_npy(*bytes, name);
  std::byte* data = bytes->data() + header.data_offset;
  if (header.big_endian) {
    reverse_element_bytes(data, header.data_bytes / element_bytes(header.type),
                          element_bytes(header.type));
  }
  return SampleArray(header.type, sample_shape_of(header, name), header.shape[0], data,
                     std::move(bytes));
}

// From the member's header alone; a deflated member's header is inflated by itself.
SourceSize inspect_npz_array(const ZipArchive& archive, const std::string& key) {
  const ZipMember& member = find_array(archive, key);
  const std::string name = array_name(archive, key);
  if (!member.deflated) {
    const std::span<const std::byte> bytes = archive.stored_bytes(member);
    const NpyHeader header = parse_whole_npy(bytes, name);
    sample_shape_of(header, name);
    return {header.shape[0], header.big_endian ? header.data_bytes : 0};
  }
  const std::vector<std::byte> start = archive.extract(member, 12 + kMaxNpyHeaderBytes);
  const NpyHeader header = parse_npy_header(start, name);
  check_npy_size(header, member.size, name);
  sample_shape_of(header, name);
  return {header.shape[0], member.size};
}

}  // namespace

SourceData read_npy_source(const NpySource& source, const SourceContext& context) {
  SourceData data;
  data.features = read_npy_file(source.features);
  if (source.targets.empty()) {
    if (context.targets_required) missing_targets(context);
    return data;
  }
  data.targets = read_npy_file(source.targets);
  check_counts(data.features, *data.targets, source.features.string(), source.targets.string());
  return data;
}

SourceSize inspect_npy_source(const NpySource& source) {
  SourceSize size = inspect_npy_file(source.features);
  if (!source.targets.empty()) size.bytes += inspect_npy_file(source.targets).bytes;
  return size;
}

SourceData read_npz_source(const NpzSource& source, const SourceContext& context) {
  const ZipArchive archive(source.file);
  SourceData data;
  data.features = read_npz_array(archive, source.features);
  if (source.targets.empty()) {
    if (context.targets_required) missing_targets(context);
    return data;
  }
  data.targets = read_npz_array(archive, source.targets);
  check_counts(data.features, *data.targets, array_name(archive, source.features),
               "array '" + source.targets + "'");
  return data;
}

SourceSize inspect_npz_source(const NpzSource& source) {
  const ZipArchive archive(source.file, MappedFile::Use::headers);
  SourceSize size = inspect_npz_array(archive, source.features);
  if (!source.targets.empty()) size.bytes += inspect_npz_array(archive, source.targets).bytes;
  return size;
}

}  // namespace loom
