#pragma once
// The structure of CSV text (RFC 4180): records end at a line end (\n or \r\n), cells are
// separated by a delimiter, and a cell in double quotes may hold delimiters, line breaks and
// quotes written twice (""). Records and cells are offsets into the text, read once; the
// line and column of a position are worked out only when a message needs them.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace loom {

struct CsvRecord {
  int64_t begin = 0;  // offset of its first character
  int64_t end = 0;    // one past its last (the line end excluded)
  int64_t line = 0;   // the 1-based line it starts on
};

class CsvText {
 public:
  // The whole file, plain or gzip (detected from the content). InputError when it is larger
  // than the memory available (a plain file before anything is read, a gzip file as soon as
  // it inflates past it), or corrupt gzip.
  static CsvText read(const std::filesystem::path& file);
  CsvText(std::string name, std::string text);

  const std::string& name() const { return name_; }
  std::string_view text() const { return text_; }
  bool has_quotes() const { return has_quotes_; }

  // The records after the first `skip_lines` lines, empty lines left out. InputError for a
  // NUL byte (not a text file) or a quote never closed.
  std::vector<CsvRecord> records(int64_t skip_lines) const;

  // "file:line:column" of `offset`, a position inside `record` (columns count bytes from 1).
  std::string position(const CsvRecord& record, int64_t offset) const;
  // "file:line" of the record.
  std::string position(const CsvRecord& record) const;

 private:
  int64_t skip(int64_t lines) const;  // the offset after the first `lines` lines
  int64_t quoted_record_end(int64_t begin, int64_t line, int64_t& line_breaks) const;

  std::string name_;
  std::string text_;
  bool has_quotes_ = false;
};

struct CsvCell {
  std::string_view raw;  // inside the quotes for a quoted cell, with its "" still doubled
  int64_t offset = 0;    // where the cell starts (at its opening quote)
  bool quoted = false;

  std::string value() const;  // the text the cell stands for ("" made ")
};

// The cells of one record, left to right.
class CsvCells {
 public:
  CsvCells(const CsvText& text, const CsvRecord& record, char delimiter);
  // The next cell, or false past the last one. InputError for text after a closing quote or
  // a quote inside an unquoted cell.
  bool next(CsvCell& cell);

 private:
  const CsvText& text_;
  const CsvRecord& record_;
  std::string_view view_;  // the whole text
  char delimiter_;
  int64_t position_;
  bool done_ = false;
};

}  // namespace loom
