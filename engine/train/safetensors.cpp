#include "engine/train/safetensors.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <nlohmann/json.hpp>

#include "engine/core/error.hpp"
#include "engine/core/input_file.hpp"
#include "engine/train/history.hpp"

namespace loom {

namespace {

constexpr const char* kChecksumKey = "loom.crc32";
constexpr const char* kFormatKey = "loom.format";
// Version 2: the checksum covers the header as well as the data (version 1 had no
// loom.format entry and checked the data alone, so its metadata could be edited unnoticed).
constexpr const char* kFormatVersion = "2";
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

size_t dtype_bytes(const std::string& dtype) {
  if (dtype == "F32" || dtype == "U32" || dtype == "I32") return 4;
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "U8") return 1;
  return 0;
}

uLong crc32_update(uLong crc, const void* bytes, size_t size) {
  const auto* data = static_cast<const Bytef*>(bytes);
  size_t offset = 0;
  while (offset < size) {  // crc32 takes a uInt length
    const auto chunk = static_cast<uInt>(std::min<size_t>(size - offset, 1u << 30));
    crc = crc32(crc, data + offset, chunk);
    offset += chunk;
  }
  return crc;
}

// Compact, keys sorted (nlohmann::json's map). Text that is not UTF-8 (a name from a config)
// is written with U+FFFD in its place rather than failing the checkpoint; read back, the
// header is valid UTF-8 and dumps to the same text.
std::string canonical_text(const nlohmann::json& header) {
  return header.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// The CRC-32 of the header's canonical JSON (nlohmann::json sorts keys; compact) without the
// checksum entry, followed by the data. Canonical, so a reader recomputes it from the parsed
// header whatever spacing or key order a tool wrote; every metadata value and tensor entry is
// covered.
std::string checksum_of(nlohmann::json header, std::span<const std::byte> data) {
  header["__metadata__"].erase(kChecksumKey);
  const std::string text = canonical_text(header);
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32_update(crc, text.data(), text.size());
  crc = crc32_update(crc, data.data(), data.size());
  return std::to_string(crc);
}

// Reads up to `size` bytes at `offset`; fewer only if the file ends sooner.
size_t read_at(int fd, void* buffer, size_t size, uint64_t offset) {
  size_t done = 0;
  while (done < size) {
    const ssize_t count =
        ::pread(fd, static_cast<char*>(buffer) + done, size - done, off_t(offset + done));
    if (count < 0 && errno == EINTR) continue;
    if (count <= 0) break;
    done += size_t(count);
  }
  return done;
}

// A non-negative JSON integer (a float, a negative number or a string is not one).
bool is_count(const nlohmann::json& value) {
  return value.is_number_unsigned() || (value.is_number_integer() && value.get<int64_t>() >= 0);
}

}  // namespace

std::string safetensors_bytes(const std::vector<TensorBytes>& tensors,
                              const std::map<std::string, std::string>& metadata) {
  nlohmann::json header = nlohmann::json::object();
  std::string data;
  for (const TensorBytes& tensor : tensors) {
    const size_t begin = data.size();
    data.append(reinterpret_cast<const char*>(tensor.data.data()), tensor.data.size());
    header[tensor.name] = {
        {"dtype", tensor.dtype}, {"shape", tensor.shape}, {"data_offsets", {begin, data.size()}}};
  }
  nlohmann::json meta = nlohmann::json::object();
  for (const auto& [key, value] : metadata) meta[key] = value;
  meta[kFormatKey] = kFormatVersion;
  header["__metadata__"] = meta;
  header["__metadata__"][kChecksumKey] =
      checksum_of(header, std::as_bytes(std::span(data.data(), data.size())));
  std::string header_text = canonical_text(header);
  // Pad the header with spaces to a multiple of 8, as the format recommends for alignment.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  std::string file_text(8, '\0');
  uint64_t length = header_text.size();
  for (int i = 0; i < 8; ++i) file_text[size_t(i)] = char((length >> (8 * i)) & 0xff);
  file_text += header_text;
  file_text += data;
  return file_text;
}

void write_safetensors(const std::filesystem::path& file, const std::vector<TensorBytes>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  write_file_atomically(file, safetensors_bytes(tensors, metadata));
}

SafetensorsFile SafetensorsFile::read(const std::filesystem::path& file) {
  const std::string name = file.string();
  // Refuses a FIFO, a directory or a device before reading (see input_file.hpp).
  const InputFile opened(file, "checkpoint");
  const int fd = opened.descriptor();
  const auto file_size = uint64_t(opened.size());
  unsigned char length_bytes[8];
  if (file_size < 8 || read_at(fd, length_bytes, 8, 0) != 8) {
    throw InputError(name + ": truncated checkpoint (no header length)");
  }
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | length_bytes[i];
  if (length == 0 || length > kMaxHeaderBytes) {
    throw InputError(name + ": not a safetensors file (header length " + std::to_string(length) +
                     ")");
  }
  std::string header_text(length, '\0');
  if (length > file_size - 8 || read_at(fd, header_text.data(), length, 8) != length) {
    throw InputError(name + ": truncated checkpoint (header)");
  }
  SafetensorsFile result;
  result.path_ = file;
  // The data is what the file held when it was opened: a file that grows is not read on.
  result.data_.resize(file_size - 8 - length);
  result.data_.resize(read_at(fd, result.data_.data(), result.data_.size(), 8 + length));

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text);
  } catch (const nlohmann::json::exception& error) {
    throw InputError(name + ": corrupt checkpoint header (" + error.what() + ")");
  }
  if (!header.is_object()) throw InputError(name + ": corrupt checkpoint header (not an object)");
  try {
    result.read_header(header);
  } catch (const nlohmann::json::exception& error) {
    throw InputError(name + ": malformed checkpoint header (" + error.what() + ")");
  }
  result.check_layout();
  result.verify_checksum(header);
  return result;
}

void SafetensorsFile::read_header(const nlohmann::json& header) {
  const std::string name = path_.string();
  for (const auto& item : header.items()) {
    // Named, not structured bindings: lambdas below capture them (clang before 16 cannot).
    const std::string& key = item.key();
    const nlohmann::json& value = item.value();
    if (key == "__metadata__") {
      if (!value.is_object()) throw InputError(name + ": __metadata__ is not a JSON object");
      for (const auto& [meta_key, meta_value] : value.items()) {
        metadata_[meta_key] = meta_value.get<std::string>();
      }
      continue;
    }
    const auto bad_entry = [&](const std::string& what) {
      throw InputError(name + ": tensor '" + key + "': " + what +
                       " (truncated or corrupted checkpoint)");
    };
    Entry entry;
    entry.dtype = value.at("dtype").get<std::string>();
    const size_t element_bytes = dtype_bytes(entry.dtype);
    if (element_bytes == 0) bad_entry("unknown dtype '" + entry.dtype + "'");
    // The byte length the shape implies, with every product checked: it must stay within
    // the data the file holds, which also keeps it far below any overflow.
    uint64_t bytes = element_bytes;
    const auto& shape = value.at("shape");
    if (!shape.is_array()) bad_entry("its shape is not a list");
    for (const auto& dimension : shape) {
      if (!is_count(dimension) || dimension.get<uint64_t>() > uint64_t(INT64_MAX)) {
        bad_entry("a dimension is not an integer from 0 to 2^63-1");
      }
      const auto extent = dimension.get<uint64_t>();
      if (extent != 0 && bytes > data_.size() / extent) {
        bytes = data_.size() + 1;  // more than the data holds (and no wrap past it)
      } else {
        bytes *= extent;
      }
      entry.shape.push_back(int64_t(extent));
    }
    const auto& offsets = value.at("data_offsets");
    if (!offsets.is_array() || offsets.size() != 2 || !is_count(offsets[0]) ||
        !is_count(offsets[1])) {
      bad_entry("data_offsets is not a pair of non-negative integers");
    }
    entry.begin = offsets[0].get<uint64_t>();
    entry.end = offsets[1].get<uint64_t>();
    if (entry.begin > entry.end || entry.end > data_.size()) {
      bad_entry("lies outside the data");
    }
    if (entry.end - entry.begin != bytes) {
      bad_entry("has a size that does not match its shape");
    }
    tensors_.emplace(key, entry);
  }
}

// The format's rule: tensors cover the data exactly, without holes or overlaps, so no byte
// is read for two tensors and none is hidden.
void SafetensorsFile::check_layout() const {
  std::vector<std::pair<const std::string*, const Entry*>> by_offset;
  for (const auto& [key, entry] : tensors_) by_offset.emplace_back(&key, &entry);
  std::ranges::sort(by_offset, [](const auto& a, const auto& b) {
    return std::pair(a.second->begin, a.second->end) < std::pair(b.second->begin, b.second->end);
  });
  size_t covered = 0;
  for (size_t i = 0; i < by_offset.size(); ++i) {
    const Entry& entry = *by_offset[i].second;
    if (entry.begin < covered) {
      throw InputError(path_.string() + ": tensors '" + *by_offset[i - 1].first + "' and '" +
                       *by_offset[i].first + "' overlap (corrupted checkpoint)");
    }
    if (entry.begin > covered) {
      throw InputError(path_.string() + ": bytes " + std::to_string(covered) + " to " +
                       std::to_string(entry.begin) +
                       " of the data belong to no tensor (corrupted "
                       "checkpoint)");
    }
    covered = entry.end;
  }
  if (covered != data_.size()) {
    throw InputError(path_.string() + ": " + std::to_string(data_.size() - covered) +
                     " bytes after the last tensor belong to no tensor (corrupted checkpoint)");
  }
}

void SafetensorsFile::verify_checksum(const nlohmann::json& header) const {
  const std::string name = path_.string();
  const auto format = metadata_.find(kFormatKey);
  const auto checksum = metadata_.find(kChecksumKey);
  if (format == metadata_.end()) {
    throw InputError(
        name + (checksum != metadata_.end()
                    ? ": the checkpoint predates header checksums (written by an older loom, its "
                      "metadata cannot be verified); retrain, or start from it with that version"
                    : ": no loom checksum (loom.format, loom.crc32): not written by loom, and an "
                      "unverifiable checkpoint is refused"));
  }
  if (format->second != kFormatVersion) {
    throw InputError(name + ": checkpoint format version '" + format->second +
                     "' is not supported (this loom reads version " + kFormatVersion + ")");
  }
  if (checksum == metadata_.end()) {
    throw InputError(name + ": the checkpoint has no '" + kChecksumKey + "' entry");
  }
  if (checksum->second != checksum_of(header, data_)) {
    throw InputError(name + ": checksum mismatch: the checkpoint is corrupted or was edited");
  }
}

std::span<const std::byte> SafetensorsFile::bytes(const std::string& name, const std::string& dtype,
                                                  const Shape& shape) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) throw InputError(path_.string() + ": no tensor '" + name + "'");
  if (it->second.dtype != dtype || it->second.shape != shape) {
    throw InputError(path_.string() + ": tensor '" + name + "' is " + it->second.dtype +
                     to_string(it->second.shape) + ", expected " + dtype + to_string(shape));
  }
  return std::span(data_).subspan(it->second.begin, it->second.end - it->second.begin);
}

std::span<const std::byte> SafetensorsFile::raw_bytes(const std::string& name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) throw InputError(path_.string() + ": no tensor '" + name + "'");
  return std::span(data_).subspan(it->second.begin, it->second.end - it->second.begin);
}

TensorBytes SafetensorsFile::tensor(const std::string& name) const {
  const auto it = tensors_.find(name);
  if (it == tensors_.end()) throw InputError(path_.string() + ": no tensor '" + name + "'");
  return {name, it->second.dtype, it->second.shape, raw_bytes(name)};
}

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> result;
  for (const auto& entry : tensors_) result.push_back(entry.first);
  return result;
}

const std::string& SafetensorsFile::metadata(const std::string& key) const {
  const auto it = metadata_.find(key);
  if (it == metadata_.end()) {
    throw InputError(path_.string() + ": the checkpoint has no '" + key + "' entry");
  }
  return it->second;
}

}  // namespace loom
