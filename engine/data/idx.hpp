#pragma once
// The idx format of MNIST and Fashion-MNIST: a big-endian header (two zero bytes, a type
// byte, a rank byte, then one 32-bit size per dimension) followed by the raw data. Files may
// be gzip-compressed; compression is detected from the content, not the name.

#include <cstdint>
#include <filesystem>
#include <vector>

#include "engine/data/sample_array.hpp"
#include "engine/data/source.hpp"

namespace loom {

// Every element type the format defines: 0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32,
// 0x0D float32, 0x0E float64, big-endian in the file, native once read.
struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // the elements' bytes, in native byte order
  ElementType type = ElementType::uint8;
};

// An idx file's header alone: its dimensions, element type and the payload's size in bytes
// (checked as read_idx checks them). Cheap even for a gzip file: only the header is inflated.
struct IdxHeader {
  std::vector<int64_t> dims;
  int64_t bytes = 0;
  ElementType type = ElementType::uint8;
};
IdxHeader read_idx_header(const std::filesystem::path& file);

// Errors (InputError) name the file and what was wrong: missing, not gzip/idx, a wrong
// magic number or element type, a truncated payload, trailing bytes, a
// payload larger than the memory available (refused before anything is allocated).
// Inflating stops just past the promised size: a gzip bomb behind a small header is cheap.
IdxArray read_idx(const std::filesystem::path& file);

// Writes an uncompressed idx file of the array's element type (tests and tools make data with
// it); the types idx does not define (bool, uint16, uint32, 64-bit integers, float16) are a
// RuntimeError.
void write_idx(const std::filesystem::path& file, const IdxArray& array);

// One idx file as samples along its first dimension (the rest is each sample's shape), in its
// element type, read straight into the array's memory.
SampleArray read_idx_samples(const std::filesystem::path& file);

// An idx source (idx_source.cpp): the images as samples of their stored shape and type (rank 2
// or more), the labels (rank 1: one value per sample, shape [1]; or more) in their stored type,
// absent only when `!context.targets_required`; their count must equal the images'.
SourceData read_idx_source(const IdxSource& source, const SourceContext& context);
SourceSize inspect_idx_source(const IdxSource& source);

}  // namespace loom
