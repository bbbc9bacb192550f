#pragma once
// The idx format of MNIST and Fashion-MNIST: a big-endian header (two zero bytes, a type
// byte, a rank byte, then one 32-bit size per dimension) followed by the raw data. Files may
// be gzip-compressed; compression is detected from the content, not the name.

#include <cstdint>
#include <filesystem>
#include <vector>

namespace loom {

struct IdxArray {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;  // unsigned bytes, the only element type MNIST uses
};

// Errors (InputError) name the file and what was wrong: missing, not gzip/idx, a wrong
// magic number or element type, a truncated payload, trailing bytes.
IdxArray read_idx(const std::filesystem::path& file);

// Writes an uncompressed idx file of unsigned bytes (tests and tools make data with it).
void write_idx(const std::filesystem::path& file, const IdxArray& array);

}  // namespace loom
