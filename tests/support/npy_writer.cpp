#include "tests/support/npy_writer.hpp"

#include <zlib.h>

#include <fstream>
#include <stdexcept>

namespace loom::testing {

namespace {

void put(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(char((value >> (8 * i)) & 0xff));
}

std::string deflated(const std::string& bytes) {
  z_stream stream{};
  if (deflateInit2(&stream, 6, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out(deflateBound(&stream, uLong(bytes.size())), '\0');
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  stream.avail_in = uInt(bytes.size());
  stream.next_out = reinterpret_cast<Bytef*>(out.data());
  stream.avail_out = uInt(out.size());
  if (deflate(&stream, Z_FINISH) != Z_STREAM_END) throw std::runtime_error("deflate failed");
  out.resize(stream.total_out);
  deflateEnd(&stream);
  return out;
}

}  // namespace

std::string npy_header_with_dict(const std::string& dict, int major) {
  const size_t prefix = major == 1 ? 10 : 12;
  std::string text = dict;
  while ((prefix + text.size() + 1) % 64 != 0) text.push_back(' ');
  text.push_back('\n');
  std::string out = "\x93NUMPY";
  out.push_back(char(major));
  out.push_back('\0');
  put(out, text.size(), major == 1 ? 2 : 4);
  return out + text;
}

std::string npy_header(const std::string& descr, const std::string& shape, int major,
                       bool fortran_order) {
  return npy_header_with_dict("{'descr': '" + descr +
                                  "', 'fortran_order': " + (fortran_order ? "True" : "False") +
                                  ", 'shape': " + shape + ", }",
                              major);
}

void write_file(const std::string& file, const std::string& bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(bytes.data(), std::streamsize(bytes.size()));
  if (!out) throw std::runtime_error(file + ": cannot write");
}

std::string zip_bytes(const std::vector<ZipEntry>& entries, const ZipOptions& options) {
  std::string archive, directory;
  for (const ZipEntry& entry : entries) {
    const std::string data = options.deflate ? deflated(entry.bytes) : entry.bytes;
    const uint32_t crc = uint32_t(
        crc32(0, reinterpret_cast<const Bytef*>(entry.bytes.data()), uInt(entry.bytes.size())));
    const uint64_t offset = archive.size();
    const int method = options.deflate ? 8 : 0;
    put(archive, 0x04034b50, 4);
    for (const uint64_t field : {20, 0, method, 0, 0}) put(archive, field, 2);
    put(archive, crc, 4);
    put(archive, data.size(), 4);
    put(archive, entry.bytes.size(), 4);
    put(archive, entry.name.size(), 2);
    put(archive, 0, 2);
    archive += entry.name + data;

    const uint32_t unknown = 0xffffffff;
    put(directory, 0x02014b50, 4);
    for (const uint64_t field : {45, 45, 0, method, 0, 0}) put(directory, field, 2);
    put(directory, crc, 4);
    put(directory, options.zip64 ? unknown : data.size(), 4);
    put(directory, options.zip64 ? unknown : entry.bytes.size(), 4);
    put(directory, entry.name.size(), 2);
    put(directory, options.zip64 ? 28 : 0, 2);
    for (int i = 0; i < 3; ++i) put(directory, 0, 2);  // comment, disk, internal attributes
    put(directory, 0, 4);                              // external attributes
    put(directory, options.zip64 ? unknown : offset, 4);
    directory += entry.name;
    if (options.zip64) {
      put(directory, 1, 2);
      put(directory, 24, 2);
      put(directory, entry.bytes.size(), 8);
      put(directory, data.size(), 8);
      put(directory, offset, 8);
    }
  }
  const uint64_t directory_offset = archive.size();
  archive += directory;
  if (options.zip64) {
    const uint64_t record = archive.size();
    put(archive, 0x06064b50, 4);
    put(archive, 44, 8);
    put(archive, 45, 2);
    put(archive, 45, 2);
    put(archive, 0, 4);
    put(archive, 0, 4);
    put(archive, entries.size(), 8);
    put(archive, entries.size(), 8);
    put(archive, directory.size(), 8);
    put(archive, directory_offset, 8);
    put(archive, 0x07064b50, 4);
    put(archive, 0, 4);
    put(archive, record, 8);
    put(archive, 1, 4);
  }
  put(archive, 0x06054b50, 4);
  put(archive, 0, 2);
  put(archive, 0, 2);
  put(archive, options.zip64 ? 0xffff : entries.size(), 2);
  put(archive, options.zip64 ? 0xffff : entries.size(), 2);
  put(archive, options.zip64 ? 0xffffffff : directory.size(), 4);
  put(archive, options.zip64 ? 0xffffffff : directory_offset, 4);
  put(archive, 0, 2);
  return archive;
}

}  // namespace loom::testing
