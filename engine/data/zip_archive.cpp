#include "engine/data/zip_archive.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>

#include "engine/core/error.hpp"
#include "engine/core/memory.hpp"

namespace loom {

namespace {

constexpr uint32_t kEndSignature = 0x06054b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr uint32_t kZip64EndSignature = 0x06064b50;
constexpr uint32_t kCentralSignature = 0x02014b50;
constexpr uint32_t kLocalSignature = 0x04034b50;
constexpr int64_t kEndBytes = 22, kLocatorBytes = 20, kZip64EndBytes = 56;
constexpr int64_t kCentralBytes = 46, kLocalBytes = 30;
constexpr int64_t kMaxCommentBytes = 65535;
constexpr uint32_t kUnknown32 = 0xffffffff;  // "see the zip64 record"
constexpr int64_t kMaxDeflateRatio = 1032;   // deflate cannot expand data more than this

// The little-endian integer of `width` bytes at `at`; callers have checked the bounds.
uint64_t little_endian(const std::byte* at, int width) {
  uint64_t value = 0;
  for (int i = width - 1; i >= 0; --i) value = value << 8 | uint64_t(at[i]);
  return value;
}

struct CentralDirectory {
  uint64_t entries = 0, offset = 0, bytes = 0;
};

// Where the end-of-central-directory record starts: searched backwards over the longest
// comment an archive may carry.
int64_t find_end_record(std::span<const std::byte> file, const std::string& name) {
  const int64_t size = std::ssize(file);
  const int64_t lowest = std::max<int64_t>(0, size - kEndBytes - kMaxCommentBytes);
  for (int64_t at = size - kEndBytes; at >= lowest; --at) {
    if (little_endian(&file[size_t(at)], 4) != kEndSignature) continue;
    const int64_t comment = int64_t(little_endian(&file[size_t(at + 20)], 2));
    if (at + kEndBytes + comment <= size) return at;
  }
  throw InputError(name +
                   ": not a zip archive (.npz files are zip archives; no end of central "
                   "directory record found)");
}

// The zip64 end record's figures, when the classic record defers to it.
CentralDirectory read_zip64_end(std::span<const std::byte> file, int64_t end_at,
                                const std::string& name) {
  if (end_at < kLocatorBytes + kZip64EndBytes ||
      little_endian(file.data() + end_at - kLocatorBytes, 4) != kZip64LocatorSignature) {
    throw InputError(name + ": corrupt zip archive (a zip64 field without its locator)");
  }
  const uint64_t record = little_endian(file.data() + end_at - kLocatorBytes + 8, 8);
  if (record > uint64_t(end_at - kLocatorBytes - kZip64EndBytes) ||
      little_endian(file.data() + record, 4) != kZip64EndSignature) {
    throw InputError(name + ": corrupt zip archive (bad zip64 end of central directory record)");
  }
  const std::byte* at = file.data() + record;
  return {little_endian(at + 32, 8), little_endian(at + 48, 8), little_endian(at + 40, 8)};
}

CentralDirectory read_end(std::span<const std::byte> file, int64_t end_at,
                          const std::string& name) {
  const std::byte* end = file.data() + end_at;
  if (little_endian(end + 4, 2) != 0 || little_endian(end + 6, 2) != 0) {
    throw InputError(name + ": split (multi-volume) zip archives are not supported");
  }
  CentralDirectory directory{little_endian(end + 10, 2), little_endian(end + 16, 4),
                             little_endian(end + 12, 4)};
  if (directory.entries == 0xffff || directory.offset == kUnknown32 ||
      directory.bytes == kUnknown32) {
    directory = read_zip64_end(file, end_at, name);
  }
  if (directory.offset > uint64_t(end_at) ||
      directory.bytes > uint64_t(end_at) - directory.offset ||
      directory.entries > directory.bytes / kCentralBytes) {
    throw InputError(name + ": corrupt zip archive (its central directory lies outside the file)");
  }
  return directory;
}

// Replaces the 32-bit fields the central header marked 0xffffffff by its zip64 extra field's
// 64-bit values, in the order the format gives them.
void read_zip64_extra(const std::byte* extra, int64_t length, uint64_t& size, uint64_t& compressed,
                      uint64_t& offset, const std::string& name) {
  for (int64_t at = 0; at + 4 <= length;) {
    const uint64_t id = little_endian(extra + at, 2), bytes = little_endian(extra + at + 2, 2);
    if (at + 4 + int64_t(bytes) > length) break;
    if (id == 1) {
      int64_t field = at + 4;
      for (uint64_t* value : {&size, &compressed, &offset}) {
        if (*value != kUnknown32) continue;
        if (field + 8 > at + 4 + int64_t(bytes)) {
          throw InputError(name + ": corrupt zip archive (a short zip64 extra field)");
        }
        *value = little_endian(extra + field, 8);
        field += 8;
      }
      return;
    }
    at += 4 + int64_t(bytes);
  }
}

// A raw deflate stream (a zip member's data) inflated piece by piece; zlib's state is released
// however inflating ends.
class Inflater {
 public:
  Inflater(std::span<const std::byte> input, std::string what)
      : input_(input), what_(std::move(what)) {
    if (inflateInit2(&stream_, -MAX_WBITS) != Z_OK) throw RuntimeError(what_ + ": zlib failed");
  }
  ~Inflater() { inflateEnd(&stream_); }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Fills `into` with up to `bytes` bytes; fewer only where the stream ends.
  int64_t inflate_into(std::byte* into, int64_t bytes) {
    stream_.next_out = reinterpret_cast<Bytef*>(into);
    stream_.avail_out = uInt(bytes);
    while (stream_.avail_out > 0 && status_ != Z_STREAM_END) {
      if (stream_.avail_in == 0 && !input_.empty()) {
        const size_t feed = std::min<size_t>(input_.size(), size_t{1} << 30);
        stream_.next_in = reinterpret_cast<Bytef*>(const_cast<std::byte*>(input_.data()));
        stream_.avail_in = uInt(feed);
        input_ = input_.subspan(feed);
      }
      status_ = inflate(&stream_, Z_NO_FLUSH);
      if (status_ != Z_OK && status_ != Z_STREAM_END) {
        throw InputError(what_ + ": corrupt or truncated deflate data" +
                         (stream_.msg ? " (" + std::string(stream_.msg) + ")" : std::string()));
      }
    }
    return bytes - int64_t(stream_.avail_out);
  }

 private:
  z_stream stream_{};
  std::span<const std::byte> input_;  // not yet handed to zlib
  std::string what_;
  int status_ = Z_OK;
};

}  // namespace

ZipArchive::ZipArchive(const std::filesystem::path& file, MappedFile::Use use)
    : name_(file.string()), file_(MappedFile::open(file, "data file", use)) {
  read_central_directory();
}

void ZipArchive::read_central_directory() {
  const std::span<const std::byte> file = file_->bytes();
  const CentralDirectory directory = read_end(file, find_end_record(file, name_), name_);
  const std::byte* entry = file.data() + directory.offset;
  const std::byte* const end = entry + directory.bytes;
  for (uint64_t i = 0; i < directory.entries; ++i) {
    if (end - entry < kCentralBytes || little_endian(entry, 4) != kCentralSignature) {
      throw InputError(name_ + ": corrupt zip archive (central directory entry " +
                       std::to_string(i) + " is damaged)");
    }
    const int64_t name_bytes = int64_t(little_endian(entry + 28, 2));
    const int64_t extra_bytes = int64_t(little_endian(entry + 30, 2));
    const int64_t comment_bytes = int64_t(little_endian(entry + 32, 2));
    if (end - entry < kCentralBytes + name_bytes + extra_bytes + comment_bytes) {
      throw InputError(name_ + ": corrupt zip archive (central directory entry " +
                       std::to_string(i) + " runs past the directory)");
    }
    ZipMember member;
    member.name.assign(reinterpret_cast<const char*>(entry + kCentralBytes), size_t(name_bytes));
    const uint64_t flags = little_endian(entry + 8, 2), method = little_endian(entry + 10, 2);
    if (flags & 1) throw InputError(name_ + ": member '" + member.name + "' is encrypted");
    if (method != 0 && method != 8) {
      throw InputError(name_ + ": member '" + member.name + "' uses compression method " +
                       std::to_string(method) + " (only stored and deflated members are read)");
    }
    member.deflated = method == 8;
    member.crc32 = uint32_t(little_endian(entry + 16, 4));
    uint64_t compressed = little_endian(entry + 20, 4), size = little_endian(entry + 24, 4);
    uint64_t offset = little_endian(entry + 42, 4);
    read_zip64_extra(entry + kCentralBytes + name_bytes, extra_bytes, size, compressed, offset,
                     name_);
    if (compressed > uint64_t(file_->size()) || offset > uint64_t(file_->size()) ||
        size > uint64_t(kMaxDeflateRatio) * compressed + kMaxDeflateRatio ||
        (!member.deflated && size != compressed)) {
      throw InputError(name_ + ": corrupt zip archive (member '" + member.name +
                       "' has impossible sizes)");
    }
    member.compressed_size = int64_t(compressed);
    member.size = int64_t(size);
    member.data_offset = int64_t(offset);  // the local header's, until located
    locate_data(member);
    if (find(member.name)) {
      throw InputError(name_ + ": the archive holds two members named '" + member.name + "'");
    }
    members_.push_back(std::move(member));
    entry += kCentralBytes + name_bytes + extra_bytes + comment_bytes;
  }
}

// The data follows the local header, whose name and extra field may differ in length from the
// central directory's (NumPy writes a zip64 extra field in the local header alone).
void ZipArchive::locate_data(ZipMember& member) const {
  const int64_t header = member.data_offset;
  const std::byte* at = file_->data() + header;
  if (file_->size() - header < kLocalBytes || little_endian(at, 4) != kLocalSignature) {
    throw InputError(name_ + ": corrupt zip archive (member '" + member.name +
                     "' has no local header at offset " + std::to_string(header) + ")");
  }
  member.data_offset = header + kLocalBytes + int64_t(little_endian(at + 26, 2)) +
                       int64_t(little_endian(at + 28, 2));
  if (member.data_offset > file_->size() ||
      member.compressed_size > file_->size() - member.data_offset) {
    throw InputError(name_ + ": truncated zip archive (member '" + member.name + "' needs " +
                     std::to_string(member.compressed_size) + " bytes from offset " +
                     std::to_string(member.data_offset) + ", the file has " +
                     std::to_string(file_->size()) + ")");
  }
}

const ZipMember* ZipArchive::find(std::string_view member_name) const {
  const auto found = std::ranges::find(members_, member_name, &ZipMember::name);
  return found == members_.end() ? nullptr : &*found;
}

std::span<const std::byte> ZipArchive::stored_bytes(const ZipMember& member) const {
  return file_->bytes().subspan(size_t(member.data_offset), size_t(member.compressed_size));
}

std::vector<std::byte> ZipArchive::extract(const ZipMember& member, int64_t count) const {
  const int64_t wanted = std::min(count, member.size);
  const std::string what = name_ + ": member '" + member.name + "'";
  if (const int64_t memory = available_memory_bytes(); wanted > memory) {
    throw InputError(what + " holds " + format_bytes(wanted) + " once inflated; this machine has " +
                     format_bytes(memory) +
                     " available (store the arrays uncompressed, "
                     "np.savez, and they are memory-mapped instead)");
  }
  if (!member.deflated) {
    const auto bytes = stored_bytes(member).first(size_t(wanted));
    return {bytes.begin(), bytes.end()};
  }
  Inflater inflater(
      file_->bytes().subspan(size_t(member.data_offset), size_t(member.compressed_size)), what);
  std::vector<std::byte> out;
  out.reserve(size_t(wanted));
  // Grown a slice at a time, so a member whose data ends early commits only what it filled.
  constexpr int64_t kSlice = int64_t{1} << 24;
  while (std::ssize(out) < wanted) {
    const int64_t filled = std::ssize(out);
    out.resize(size_t(filled + std::min(kSlice, wanted - filled)));
    const int64_t produced = inflater.inflate_into(out.data() + filled, std::ssize(out) - filled);
    if (filled + produced < std::ssize(out)) {
      throw InputError(what + " inflates to " + std::to_string(filled + produced) +
                       " bytes, less than its declared " + std::to_string(member.size));
    }
  }
  if (wanted < member.size) return out;
  std::byte extra{};
  if (inflater.inflate_into(&extra, 1) > 0) {
    throw InputError(what + " inflates to more than its declared " + std::to_string(member.size) +
                     " bytes");
  }
  if (crc32_z(0, reinterpret_cast<const Bytef*>(out.data()), out.size()) != member.crc32) {
    throw InputError(what + ": checksum mismatch (the archive is corrupt)");
  }
  return out;
}

}  // namespace loom
