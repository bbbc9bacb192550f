#pragma once
// The members of a zip archive (NumPy's .npz), read from its central directory in a memory
// mapping of the file: stored members are seen in place, deflated ones inflated with zlib.
// Zip64 archives (members or archives beyond 4 GiB) are read; encryption, split archives and
// compression methods other than deflate are refused.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/core/mapped_file.hpp"

namespace loom {

struct ZipMember {
  std::string name;
  bool deflated = false;  // else stored
  int64_t compressed_size = 0;
  int64_t size = 0;  // uncompressed
  uint32_t crc32 = 0;
  int64_t data_offset = 0;  // in the archive, past the member's local header
};

class ZipArchive {
 public:
  // Maps `file` and reads its central directory and each member's local header. InputError
  // naming the file: not a zip archive, truncated, a member reaching past the end, ...
  explicit ZipArchive(const std::filesystem::path& file,
                      MappedFile::Use use = MappedFile::Use::whole);

  const std::string& name() const { return name_; }
  const std::vector<ZipMember>& members() const { return members_; }
  const ZipMember* find(std::string_view member_name) const;
  const std::shared_ptr<const MappedFile>& mapping() const { return file_; }

  // A stored member's bytes, in place in the mapping.
  std::span<const std::byte> stored_bytes(const ZipMember& member) const;
  // The first `count` bytes of a member (all of it when `count` >= its size), inflated if it is
  // deflated, into memory the caller owns. Refused beyond the memory available; a member
  // extracted whole must inflate to exactly its declared size and checksum.
  std::vector<std::byte> extract(const ZipMember& member, int64_t count) const;

 private:
  void read_central_directory();
  void locate_data(ZipMember& member) const;

  std::string name_;
  std::shared_ptr<const MappedFile> file_;
  std::vector<ZipMember> members_;
};

}  // namespace loom
