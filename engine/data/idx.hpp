#pragma once
// The idx format of MNIST and Fashion-MNIST: a big-endian header (two zero bytes, a type
// byte, a rank byte, then one 32-bit size per dimension) followed by the raw data. Files may
// be gzip-compressed; compression is detected from the content, not the name.

#include <cstdint>
#include <filesystem>
#include <vector>

#include "engine/data/source.hpp"

namespace loom {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // unsigned bytes, the only element type MNIST uses
};

// An idx file's header alone: its dimensions and the payload's size in bytes (checked as
// read_idx checks them). Cheap even for a gzip file: only the header is inflated.
struct IdxHeader {
  std::vector<int64_t> dims;
  int64_t bytes = 0;
};
IdxHeader read_idx_header(const std::filesystem::path& file);

// Errors (InputError) name the file and what was wrong: missing, not gzip/idx, a wrong
// magic number or element type, a truncated payload, trailing bytes, a
// payload larger than the memory available (refused before anything is allocated).
// Inflating stops just past the promised size: a gzip bomb behind a small header is cheap.
IdxArray read_idx(const std::filesystem::path& file);

// An idx source: the images as uint8 samples of their stored shape, the labels (when given)
// as uint8 values.
SourceData read_idx_source(const IdxSource& source, const SourceContext& context);
SourceSize inspect_idx_source(const IdxSource& source);

// Writes an uncompressed idx file of unsigned bytes (tests and tools make data with it).
void write_idx(const std::filesystem::path& file, const IdxArray& array);

}  // namespace loom
