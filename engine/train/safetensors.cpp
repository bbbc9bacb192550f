#include "engine/train/safetensors.hpp"

#include <zlib.h>

#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/core/error.hpp"
#include "engine/train/history.hpp"

namespace loom {

namespace {

constexpr const char* kChecksumKey = "loom.crc32";
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

size_t dtype_bytes(const std::string& dtype) {
  if (dtype == "F32" || dtype == "U32" || dtype == "I32") return 4;
  if (dtype == "F64" || dtype == "I64" || dtype == "U64") return 8;
  if (dtype == "U8") return 1;
  return 0;
}

std::string crc32_of(std::span<const std::byte> data) {
  uLong crc = crc32(0L, Z_NULL, 0);
  size_t offset = 0;
  while (offset < data.size()) {  // crc32 takes a uInt length
    const auto chunk = static_cast<uInt>(std::min<size_t>(data.size() - offset, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(data.data() + offset), chunk);
    offset += chunk;
  }
  return std::to_string(crc);
}

}  // namespace

void write_safetensors(const std::filesystem::path& file, const std::vector<TensorBytes>& tensors,
                       const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  std::string data;
  for (const TensorBytes& tensor : tensors) {
    const size_t begin = data.size();
    data.append(reinterpret_cast<const char*>(tensor.data.data()), tensor.data.size());
    header[tensor.name] = {
        {"dtype", tensor.dtype}, {"shape", tensor.shape}, {"data_offsets", {begin, data.size()}}};
  }
  nlohmann::ordered_json meta = nlohmann::ordered_json::object();
  for (const auto& [key, value] : metadata) meta[key] = value;
  meta[kChecksumKey] = crc32_of(std::as_bytes(std::span(data.data(), data.size())));
  header["__metadata__"] = meta;
  std::string header_text = header.dump();
  // Pad the header with spaces to a multiple of 8, as the format recommends for alignment.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  std::string file_text(8, '\0');
  uint64_t length = header_text.size();
  for (int i = 0; i < 8; ++i) file_text[size_t(i)] = char((length >> (8 * i)) & 0xff);
  file_text += header_text;
  file_text += data;
  write_file_atomically(file, file_text);
}

SafetensorsFile SafetensorsFile::read(const std::filesystem::path& file) {
  const std::string name = file.string();
  std::ifstream in(file, std::ios::binary);
  if (!in) throw InputError(name + ": checkpoint not found");
  unsigned char length_bytes[8];
  if (!in.read(reinterpret_cast<char*>(length_bytes), 8)) {
    throw InputError(name + ": truncated checkpoint (no header length)");
  }
  uint64_t length = 0;
  for (int i = 7; i >= 0; --i) length = (length << 8) | length_bytes[i];
  if (length == 0 || length > kMaxHeaderBytes) {
    throw InputError(name + ": not a safetensors file (header length " + std::to_string(length) +
                     ")");
  }
  std::string header_text(length, '\0');
  if (!in.read(header_text.data(), std::streamsize(length))) {
    throw InputError(name + ": truncated checkpoint (header)");
  }
  SafetensorsFile result;
  result.path_ = file;
  std::vector<char> rest((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  result.data_.resize(rest.size());
  if (!rest.empty()) std::memcpy(result.data_.data(), rest.data(), rest.size());

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(header_text);
  } catch (const nlohmann::json::exception& error) {
    throw InputError(name + ": corrupt checkpoint header (" + error.what() + ")");
  }
  try {
    for (const auto& [key, value] : header.items()) {
      if (key == "__metadata__") {
        for (const auto& [meta_key, meta_value] : value.items()) {
          result.metadata_[meta_key] = meta_value.get<std::string>();
        }
        continue;
      }
      Entry entry;
      entry.dtype = value.at("dtype").get<std::string>();
      entry.shape = value.at("shape").get<Shape>();
      const auto offsets = value.at("data_offsets").get<std::vector<size_t>>();
      if (offsets.size() != 2 || offsets[0] > offsets[1] || offsets[1] > result.data_.size() ||
          offsets[1] - offsets[0] != size_t(numel(entry.shape)) * dtype_bytes(entry.dtype) ||
          dtype_bytes(entry.dtype) == 0) {
        throw InputError(name + ": tensor '" + key +
                         "' lies outside the data or has a size that "
                         "does not match its shape (truncated or corrupted checkpoint)");
      }
      entry.begin = offsets[0];
      entry.end = offsets[1];
      result.tensors_.emplace(key, entry);
    }
  } catch (const nlohmann::json::exception& error) {
    throw InputError(name + ": malformed checkpoint header (" + error.what() + ")");
  }
  const auto checksum = result.metadata_.find(kChecksumKey);
  if (checksum != result.metadata_.end() && checksum->second != crc32_of(result.data_)) {
    throw InputError(name + ": checksum mismatch: the checkpoint is corrupted");
  }
  return result;
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
