#include "engine/data/npy_header.hpp"

#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include "engine/core/error.hpp"

namespace loom {

namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

// The numeric dtypes, by their descr without the byte order ("f4").
struct NumericCode {
  std::string_view code;
  ElementType type;
};
constexpr NumericCode kNumericCodes[] = {
    {"b1", ElementType::boolean}, {"u1", ElementType::uint8},   {"i1", ElementType::int8},
    {"u2", ElementType::uint16},  {"i2", ElementType::int16},   {"u4", ElementType::uint32},
    {"i4", ElementType::int32},   {"u8", ElementType::uint64},  {"i8", ElementType::int64},
    {"f2", ElementType::float16}, {"f4", ElementType::float32}, {"f8", ElementType::float64},
};

// What a dtype that is not one of kNumericCodes holds, by NumPy's kind character.
std::string_view kind_description(char kind) {
  switch (kind) {
    case 'c':
      return "complex numbers";
    case 'O':
      return "Python objects";
    case 'U':
    case 'S':
    case 'a':
      return "strings";
    case 'V':
      return "raw records";
    case 'M':
    case 'm':
      return "dates or times";
    case 'f':
      return "floats of a width other than 2, 4 or 8 bytes";
    default:
      return "not numbers";
  }
}

// A cursor over the dict literal; each error names the file and the character offset in the
// header (the header is one line, so the offset is its column).
class DictParser {
 public:
  DictParser(std::string_view text, const std::string& name) : text_(text), name_(name) {}

  [[noreturn]] void fail(const std::string& what) const {
    std::string shown(text_.substr(0, 120));
    while (!shown.empty() && (shown.back() == ' ' || shown.back() == '\n')) shown.pop_back();
    throw InputError(name_ + ": malformed .npy header at column " + std::to_string(at_ + 1) + ": " +
                     what + " (header: " + shown + ")");
  }
  void skip_space() {
    while (at_ < text_.size() && (text_[at_] == ' ' || text_[at_] == '\t' || text_[at_] == '\n'))
      ++at_;
  }
  bool accept(char c) {
    skip_space();
    if (at_ < text_.size() && text_[at_] == c) return ++at_, true;
    return false;
  }
  void expect(char c, std::string_view what) {
    if (!accept(c)) fail("expected " + std::string(what));
  }
  bool at_end() {
    skip_space();
    return at_ == text_.size();
  }
  char peek() {
    skip_space();
    return at_ < text_.size() ? text_[at_] : '\0';
  }

  std::string string_literal() {
    skip_space();
    const char quote = at_ < text_.size() ? text_[at_] : '\0';
    if (quote != '\'' && quote != '"') fail("expected a quoted string");
    const size_t end = text_.find(quote, at_ + 1);
    if (end == std::string_view::npos) fail("unterminated string");
    std::string value(text_.substr(at_ + 1, end - at_ - 1));
    at_ = end + 1;
    return value;
  }

  bool boolean_literal() {
    skip_space();
    for (const auto& [word, value] : {std::pair{"True", true}, std::pair{"False", false}}) {
      if (text_.substr(at_).starts_with(word)) {
        at_ += std::strlen(word);
        return value;
      }
    }
    fail("expected True or False");
  }

  // A tuple of non-negative integers: "()", "(5,)", "(2, 3)"; Python 2's "3L" too.
  Shape shape_tuple() {
    expect('(', "'(' to open the shape");
    Shape shape;
    while (!accept(')')) {
      if (!shape.empty()) expect(',', "',' between dimensions");
      if (accept(')')) break;  // a trailing comma
      shape.push_back(dimension());
    }
    return shape;
  }

 private:
  int64_t dimension() {
    skip_space();
    if (at_ < text_.size() && text_[at_] == '-') fail("a negative dimension");
    if (at_ >= text_.size() || text_[at_] < '0' || text_[at_] > '9') fail("expected a dimension");
    int64_t value = 0;
    while (at_ < text_.size() && text_[at_] >= '0' && text_[at_] <= '9') {
      if (__builtin_mul_overflow(value, 10, &value) ||
          __builtin_add_overflow(value, text_[at_] - '0', &value)) {
        fail("a dimension beyond 64-bit integers");
      }
      ++at_;
    }
    if (at_ < text_.size() && text_[at_] == 'L') ++at_;
    return value;
  }

  std::string_view text_;
  const std::string& name_;
  size_t at_ = 0;
};

// The element type a descr such as "<f4" names, or an InputError saying why it is not read.
void read_descr(NpyHeader& header, const std::string& name) {
  std::string_view descr = header.descr;
  char order = '=';
  if (!descr.empty() && std::string_view("<>|=").find(descr[0]) != std::string_view::npos) {
    order = descr[0];
    descr.remove_prefix(1);
  }
  for (const NumericCode& numeric : kNumericCodes) {
    if (descr != numeric.code) continue;
    header.type = numeric.type;
    header.big_endian = order == '>' && element_bytes(numeric.type) > 1;
    return;
  }
  const char kind = descr.empty() ? '?' : descr[0];
  throw InputError(name + ": dtype '" + header.descr + "' (" + std::string(kind_description(kind)) +
                   ") is not supported: arrays must hold bool, int8 to int64, uint8 to uint64, "
                   "float16, float32 or float64");
}

// The header's dict: exactly the keys 'descr', 'fortran_order' and 'shape', as np.save writes.
void read_dict(std::string_view text, NpyHeader& header, const std::string& name) {
  DictParser parser(text, name);
  parser.expect('{', "'{' to open the header dict");
  std::optional<bool> fortran_order;
  bool has_descr = false, has_shape = false;
  while (!parser.accept('}')) {
    const std::string key = parser.string_literal();
    parser.expect(':', "':' after '" + key + "'");
    if (key == "descr") {
      if (parser.peek() == '[') {
        throw InputError(name +
                         ": structured dtypes (records with named fields) are not "
                         "supported: save each field as its own array");
      }
      header.descr = parser.string_literal();
      has_descr = true;
    } else if (key == "fortran_order") {
      fortran_order = parser.boolean_literal();
    } else if (key == "shape") {
      header.shape = parser.shape_tuple();
      has_shape = true;
    } else {
      parser.fail("unexpected key '" + key + "'");
    }
    if (!parser.accept(',')) {
      parser.expect('}', "',' or '}'");
      break;
    }
  }
  if (!parser.at_end()) parser.fail("text after the dict");
  if (!has_descr || !fortran_order || !has_shape) {
    throw InputError(name + ": the .npy header lacks " +
                     (!has_descr       ? "'descr'"
                      : !fortran_order ? "'fortran_order'"
                                       : "'shape'"));
  }
  if (*fortran_order) {
    throw InputError(name +
                     ": the array is in Fortran (column-major) order; save it in C order "
                     "(np.save(path, np.ascontiguousarray(a)))");
  }
  read_descr(header, name);
}

uint32_t little_endian(const std::byte* at, int bytes) {
  uint32_t value = 0;
  for (int i = bytes - 1; i >= 0; --i) value = value << 8 | uint32_t(at[i]);
  return value;
}

}  // namespace

NpyHeader parse_npy_header(std::span<const std::byte> bytes, const std::string& name) {
  const auto* text = reinterpret_cast<const char*>(bytes.data());
  if (bytes.size() < 10 || std::string_view(text, kMagic.size()) != kMagic) {
    throw InputError(name + ": not a .npy file (it does not start with \\x93NUMPY)");
  }
  const int major = int(bytes[6]), minor = int(bytes[7]);
  if (major < 1 || major > 3 || minor != 0) {
    throw InputError(name + ": .npy format version " + std::to_string(major) + "." +
                     std::to_string(minor) + " is not supported (1.0, 2.0 and 3.0 are)");
  }
  const int length_bytes = major == 1 ? 2 : 4;
  if (int64_t(bytes.size()) < 8 + length_bytes) throw InputError(name + ": truncated .npy header");
  const int64_t header_bytes = little_endian(bytes.data() + 8, length_bytes);
  if (header_bytes > kMaxNpyHeaderBytes) {
    throw InputError(name + ": the .npy header claims " + std::to_string(header_bytes) +
                     " bytes (at most " + std::to_string(kMaxNpyHeaderBytes) + " are read)");
  }
  NpyHeader header;
  header.data_offset = 8 + length_bytes + header_bytes;
  if (int64_t(bytes.size()) < header.data_offset) {
    throw InputError(name + ": truncated .npy header (it claims " + std::to_string(header_bytes) +
                     " bytes, the file has " +
                     std::to_string(int64_t(bytes.size()) - 8 - length_bytes) + ")");
  }
  read_dict(std::string_view(text + 8 + length_bytes, size_t(header_bytes)), header, name);
  header.data_bytes = element_bytes(header.type);
  for (const int64_t dim : header.shape) {
    if (__builtin_mul_overflow(header.data_bytes, dim, &header.data_bytes)) {
      throw InputError(name + ": shape " + numpy_shape_text(header.shape) +
                       " is too large (its size overflows 64-bit integers)");
    }
  }
  return header;
}

void check_npy_size(const NpyHeader& header, int64_t total_bytes, const std::string& name) {
  const int64_t data = total_bytes - header.data_offset;
  if (data < header.data_bytes) {
    throw InputError(name + ": truncated: shape " + numpy_shape_text(header.shape) + " of " +
                     std::string(element_name(header.type)) + " needs " +
                     std::to_string(header.data_bytes) + " bytes of data, the file has " +
                     std::to_string(data));
  }
  if (data > header.data_bytes) {
    throw InputError(name + ": " + std::to_string(data - header.data_bytes) +
                     " unexpected bytes after the data the header describes (shape " +
                     numpy_shape_text(header.shape) + " of " +
                     std::string(element_name(header.type)) + ")");
  }
}

std::string numpy_shape_text(const Shape& shape) {
  std::string text = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    text += (i ? ", " : "") + std::to_string(shape[i]);
  }
  return text + (shape.size() == 1 ? ",)" : ")");
}

NpyHeader parse_whole_npy(std::span<const std::byte> bytes, const std::string& name) {
  NpyHeader header = parse_npy_header(bytes, name);
  check_npy_size(header, std::ssize(bytes), name);
  return header;
}

}  // namespace loom
