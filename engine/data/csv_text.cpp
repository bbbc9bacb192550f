#include "engine/data/csv_text.hpp"

#include <algorithm>
#include <cstring>

#include "engine/core/error.hpp"
#include "engine/core/memory.hpp"
#include "engine/data/compressed_reader.hpp"

namespace loom {

namespace {

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";  // spreadsheets write one

[[noreturn]] void refuse_inflated(const std::string& name, int64_t limit) {
  throw InputError(name + ": inflates to more than the " + format_bytes(limit) +
                   " of memory available");
}

// Reads everything `reader` yields into one string. The size is known before reading (a plain
// file's, or what the gzip trailer says), so a size beyond `limit` is refused before anything
// is read, and the buffer is reserved once: only reserved, because a trailer may lie, and
// memory is touched only as data fills it. Data beyond that grows the buffer only while the
// old and the new buffer together fit in `limit`.
std::string read_bounded(CompressedReader& reader, const std::string& name, int64_t limit) {
  const int64_t expected = reader.compressed() ? reader.gzip_size_hint() : reader.file_bytes();
  if (expected > limit) {
    throw InputError(name + ": " + (reader.compressed() ? "inflates to " : "") +
                     format_bytes(expected) + ", more than the " + format_bytes(limit) +
                     " of memory available");
  }
  constexpr int64_t kSlice = int64_t{1} << 24;
  std::string text;
  text.reserve(size_t(expected + 1));  // one byte more, to notice data beyond it
  for (int64_t filled = 0;;) {
    const auto capacity = int64_t(text.capacity());
    int64_t wanted = std::min(kSlice, capacity - filled);
    if (wanted <= 0) {
      wanted = kSlice;
      const int64_t grown = std::max(2 * capacity, filled + wanted);
      if (capacity + grown > limit) refuse_inflated(name, limit);
      text.reserve(size_t(grown));
    }
    text.resize(size_t(filled + wanted));
    const size_t count = reader.read(text.data() + filled, size_t(wanted));
    filled += int64_t(count);
    if (filled > limit) refuse_inflated(name, limit);
    if (int64_t(count) < wanted) {
      text.resize(size_t(filled));
      return text;
    }
  }
}

}  // namespace

CsvText CsvText::read(const std::filesystem::path& file) {
  CompressedReader reader(file);
  const std::string name = file.string();
  return CsvText(name, read_bounded(reader, name, available_memory_bytes()));
}

CsvText::CsvText(std::string name, std::string text)
    : name_(std::move(name)), text_(std::move(text)) {
  has_quotes_ = text_.find('"') != std::string::npos;
}

int64_t CsvText::skip(int64_t lines) const {
  int64_t offset = text_.starts_with(kByteOrderMark) ? int64_t(kByteOrderMark.size()) : 0;
  for (int64_t skipped = 0; skipped < lines && offset < std::ssize(text_); ++skipped) {
    const size_t end = text_.find('\n', size_t(offset));
    offset = end == std::string::npos ? std::ssize(text_) : int64_t(end) + 1;
  }
  return offset;
}

// Where a record that may hold quoted line breaks ends (its '\n', or the end of the text),
// counting the line breaks inside quotes.
int64_t CsvText::quoted_record_end(int64_t begin, int64_t line, int64_t& line_breaks) const {
  bool quoted = false;
  int64_t opening = begin;
  const int64_t size = std::ssize(text_);
  for (int64_t i = begin; i < size; ++i) {
    const char c = text_[size_t(i)];
    if (c == '"') {
      quoted = !quoted;  // a doubled quote closes and reopens
      if (quoted) opening = i;
    } else if (c == '\n') {
      if (!quoted) return i;
      ++line_breaks;
    }
  }
  if (quoted) {
    throw InputError(position(CsvRecord{begin, size, line}, opening) +
                     ": a quote that is never closed");
  }
  return size;
}

std::vector<CsvRecord> CsvText::records(int64_t skip_lines) const {
  if (const size_t nul = text_.find('\0'); nul != std::string::npos) {
    throw InputError(name_ + ": not a text file (a NUL byte at offset " + std::to_string(nul) +
                     ")");
  }
  // One record per line at most: a file of short lines ("1\n" 500 million times) makes the
  // list larger than the text, so its size is checked before it is allocated.
  const int64_t size = std::ssize(text_);
  const int64_t lines = std::count(text_.begin(), text_.end(), '\n') + 1;
  const int64_t bytes = lines * int64_t(sizeof(CsvRecord));
  if (const int64_t available = available_memory_bytes(); bytes > available) {
    throw InputError(name_ + ": " + std::to_string(lines) + " lines need " + format_bytes(bytes) +
                     " to index, more than the " + format_bytes(available) +
                     " of memory available");
  }
  std::vector<CsvRecord> records;
  records.reserve(size_t(lines));
  int64_t line = 1 + skip_lines;
  for (int64_t begin = skip(skip_lines); begin < size;) {
    int64_t line_breaks = 0, end = 0;
    if (has_quotes_) {
      end = quoted_record_end(begin, line, line_breaks);
    } else {
      const void* found = std::memchr(text_.data() + begin, '\n', size_t(size - begin));
      end = found ? static_cast<const char*>(found) - text_.data() : size;
    }
    int64_t content_end = end;
    if (content_end > begin && text_[size_t(content_end - 1)] == '\r') --content_end;
    if (content_end > begin) records.push_back({begin, content_end, line});
    line += 1 + line_breaks;
    begin = end + 1;
  }
  return records;
}

std::string CsvText::position(const CsvRecord& record, int64_t offset) const {
  int64_t line = record.line, line_start = record.begin;
  for (int64_t i = record.begin; i < offset; ++i) {
    if (text_[size_t(i)] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  // The first record may start after a byte order mark, which no editor counts.
  return name_ + ":" + std::to_string(line) + ":" + std::to_string(offset - line_start + 1);
}

std::string CsvText::position(const CsvRecord& record) const {
  return name_ + ":" + std::to_string(record.line);
}

std::string CsvCell::value() const {
  if (!quoted || raw.find('"') == std::string_view::npos) return std::string(raw);
  std::string value;
  for (size_t i = 0; i < raw.size(); ++i) {
    value += raw[i];
    if (raw[i] == '"') ++i;  // the second of a doubled quote
  }
  return value;
}

CsvCells::CsvCells(const CsvText& text, const CsvRecord& record, char delimiter)
    : text_(text),
      record_(record),
      view_(text.text()),
      delimiter_(delimiter),
      position_(record.begin) {}

bool CsvCells::next(CsvCell& cell) {
  if (done_) return false;
  const int64_t end = record_.end;
  cell.offset = position_;
  cell.quoted = position_ < end && view_[size_t(position_)] == '"';
  if (cell.quoted) {
    int64_t closing = position_ + 1;
    for (;; closing += 2) {  // past a doubled quote
      const size_t found = view_.find('"', size_t(closing));
      if (found == std::string_view::npos || int64_t(found) >= end) {
        throw InputError(text_.position(record_, position_) + ": a quote that is never closed");
      }
      closing = int64_t(found);
      if (closing + 1 >= end || view_[size_t(closing + 1)] != '"') break;
    }
    cell.raw = view_.substr(size_t(position_ + 1), size_t(closing - position_ - 1));
    position_ = closing + 1;
    if (position_ == end) {
      done_ = true;
    } else if (view_[size_t(position_)] != delimiter_) {
      throw InputError(text_.position(record_, position_) +
                       ": expected a delimiter or a line end after the closing quote");
    } else {
      ++position_;
    }
    return true;
  }
  const size_t found = view_.substr(0, size_t(end)).find(delimiter_, size_t(position_));
  const int64_t cell_end = found == std::string_view::npos ? end : int64_t(found);
  cell.raw = view_.substr(size_t(position_), size_t(cell_end - position_));
  if (text_.has_quotes()) {
    if (const size_t quote = cell.raw.find('"'); quote != std::string_view::npos) {
      throw InputError(text_.position(record_, position_ + int64_t(quote)) +
                       ": a quote inside a cell that does not start with one (quote the whole "
                       "cell and write the quote twice)");
    }
  }
  done_ = cell_end == end;
  position_ = cell_end + 1;
  return true;
}

}  // namespace loom
