#pragma once
// The safetensors format (readable by numpy and PyTorch tools): an 8-byte little-endian
// header length, a JSON header naming each tensor's dtype, shape and byte range, and the raw
// little-endian data. loom adds to the header's __metadata__ a format version ("loom.format")
// and a CRC-32 ("loom.crc32") of the header's canonical JSON without that entry followed by
// the data, so a truncated, corrupted or edited file (data or metadata) is refused instead of
// loaded. Files without them (other tools', older loom versions') are refused too: they
// cannot be verified.

#include <cstddef>
#include <filesystem>
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <span>
#include <string>
#include <vector>

#include "engine/core/tensor_type.hpp"

namespace loom {

struct TensorBytes {
  std::string name;
  std::string dtype;  // "F32", "U32"
  Shape shape;
  std::span<const std::byte> data;
};

// The file's bytes: the tensors in order, the metadata with loom.format and loom.crc32 added.
std::string safetensors_bytes(const std::vector<TensorBytes>& tensors,
                              const std::map<std::string, std::string>& metadata);

// Written whole to a temporary file beside `file`, fsync'ed, then renamed over it: a crash at
// any moment leaves either the old file or the new one.
void write_safetensors(const std::filesystem::path& file, const std::vector<TensorBytes>& tensors,
                       const std::map<std::string, std::string>& metadata);

class SafetensorsFile {
 public:
  // Errors (InputError) name the file and what is wrong: missing, not a regular file (a FIFO,
  // a directory, a device: refused before opening), truncated, a header that is not valid
  // JSON, offsets outside the data or overlapping, a size that does not match the shape, no
  // or an old format version, a checksum mismatch.
  static SafetensorsFile read(const std::filesystem::path& file);

  bool contains(const std::string& name) const { return tensors_.contains(name); }
  // The tensor's bytes; its dtype and shape must match what the caller expects.
  std::span<const std::byte> bytes(const std::string& name, const std::string& dtype,
                                   const Shape& shape) const;
  // The bytes of any tensor, unchecked (comparisons, tools).
  std::span<const std::byte> raw_bytes(const std::string& name) const;
  // A tensor as written (name, dtype, shape, bytes): for copying a file's tensors.
  TensorBytes tensor(const std::string& name) const;
  std::vector<std::string> names() const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const std::string& metadata(const std::string& key) const;  // missing: an error
  const std::filesystem::path& path() const { return path_; }

 private:
  struct Entry {
    std::string dtype;
    Shape shape;
    size_t begin = 0, end = 0;
  };
  void read_header(const nlohmann::json& header);
  void check_layout() const;
  void verify_checksum(const nlohmann::json& header) const;

  std::filesystem::path path_;
  std::map<std::string, Entry> tensors_;
  std::map<std::string, std::string> metadata_;
  std::vector<std::byte> data_;
};

}  // namespace loom
