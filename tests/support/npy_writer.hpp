#pragma once
// Writers of .npy files and zip archives for the tests: written here from the formats'
// specifications (not with the engine's readers' code), and able to write what NumPy never
// does (damaged headers, zip64 records for small members, lying sizes) to test the refusals.

#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace loom::testing {

// A .npy header: magic, version `major`.0, length, then the dict literal for `descr` ("<f4")
// and `shape` ("(3, 4)"), padded with spaces and a newline to a multiple of 64 bytes.
std::string npy_header(const std::string& descr, const std::string& shape, int major = 1,
                       bool fortran_order = false);
// A header with a dict written by the caller verbatim (padded likewise).
std::string npy_header_with_dict(const std::string& dict, int major = 1);

// The values' bytes as they are in memory (element by element: std::vector<bool> has no data()).
template <typename T>
std::string bytes_of(const std::vector<T>& values) {
  std::string bytes;
  for (const T value : values) {
    char element[sizeof(T)];
    std::memcpy(element, &value, sizeof(T));
    bytes.append(element, sizeof(T));
  }
  return bytes;
}

void write_file(const std::string& file, const std::string& bytes);

struct ZipEntry {
  std::string name;
  std::string bytes;
};
struct ZipOptions {
  bool deflate = false;
  bool zip64 = false;  // sizes and offsets in zip64 extra fields, with a zip64 end record
};
// A zip archive of the entries (each with its CRC-32 and a local header carrying no extra).
std::string zip_bytes(const std::vector<ZipEntry>& entries, const ZipOptions& options = {});

}  // namespace loom::testing
