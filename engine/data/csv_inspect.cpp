// inspect_csv_source (declared in csv_source.hpp): the samples and bytes a CSV file will
// give, for the memory estimate, from one streamed pass that allocates nothing per line.

#include <algorithm>
#include <cstring>
#include <vector>

#include "engine/core/error.hpp"
#include "engine/core/memory.hpp"
#include "engine/data/compressed_reader.hpp"
#include "engine/data/csv_source.hpp"

namespace loom {

namespace {

// Counts lines as they stream past: the non-empty ones after `skip` lines, and keeps the
// first of them (its columns are counted).
class LineCounter {
 public:
  explicit LineCounter(int64_t skip) : skip_(skip) {}

  void add(const char* data, size_t size) {
    const char* end = data + size;
    for (const char* at = data; at < end;) {
      const auto* found = static_cast<const char*>(std::memchr(at, '\n', size_t(end - at)));
      const char* line_end = found ? found : end;
      if (lines_ >= skip_) take(at, line_end);
      if (found) end_line();
      at = line_end + 1;
    }
  }
  void finish() {
    if (has_content_) end_line();
  }
  int64_t non_empty_lines() const { return non_empty_; }

  // Cells of the first line: delimiters outside quotes, plus one.
  int64_t first_line_cells(char delimiter) const {
    int64_t cells = 1;
    bool quoted = false;
    for (char c : first_line_) {
      if (c == '"') quoted = !quoted;
      if (c == delimiter && !quoted) ++cells;
    }
    return cells;
  }

 private:
  static constexpr size_t kFirstLineBytes = size_t{1} << 20;

  // Part of a line (all of it, or up to the end of a chunk).
  void take(const char* begin, const char* end) {
    if (end > begin && !(end - begin == 1 && *begin == '\r')) has_content_ = true;
    if (non_empty_ == 0 && first_line_.size() < kFirstLineBytes) {
      first_line_.append(begin, size_t(std::min<ptrdiff_t>(end - begin, kFirstLineBytes)));
    }
  }

  void end_line() {
    if (lines_ >= skip_ && has_content_) ++non_empty_;
    if (non_empty_ == 0) first_line_.clear();  // an empty line before the first
    ++lines_;
    has_content_ = false;
  }

  int64_t skip_;
  int64_t lines_ = 0;
  int64_t non_empty_ = 0;
  bool has_content_ = false;
  std::string first_line_;
};

}  // namespace

// Samples are counted, not estimated: the non-empty lines after skip_rows and the header (a
// quoted cell spanning lines counts more than once, so this is an upper bound). The bytes
// are what reading keeps: 4 per cell (float32 values, int32 class indices).
SourceSize inspect_csv_source(const CsvSource& source) {
  CompressedReader reader(source.file);
  const std::string name = source.file.string();
  const int64_t available = available_memory_bytes();
  if (reader.compressed() && reader.gzip_size_hint() > available) {
    throw InputError(name + ": inflates to " + format_bytes(reader.gzip_size_hint()) +
                     ", more than the " + format_bytes(available) + " of memory available");
  }
  LineCounter counter(source.skip_rows);
  std::vector<char> chunk(size_t{1} << 20);
  int64_t total = 0;
  for (size_t count; (count = reader.read(chunk.data(), chunk.size())) > 0;) {
    total += int64_t(count);
    if (total > available) {
      throw InputError(name + ": " +
                       (reader.compressed() ? "inflates to more than" : "is more than") + " the " +
                       format_bytes(available) + " of memory available");
    }
    counter.add(chunk.data(), count);
  }
  counter.finish();
  const int64_t samples = std::max<int64_t>(0, counter.non_empty_lines() - (source.header ? 1 : 0));
  return {samples, samples * counter.first_line_cells(source.delimiter) * 4};
}

}  // namespace loom
