#include "engine/data/csv_samples.hpp"

#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "engine/core/error.hpp"
#include "engine/core/input_file.hpp"

namespace loom {

namespace {

std::string position(const std::filesystem::path& file, int64_t line, int64_t column) {
  return file.string() + ":" + std::to_string(line) + ":" + std::to_string(column);
}

// One cell as a pixel: a whole number from 0 to 255 (strtod's forms: "7", "7.0", "7e0").
uint8_t read_pixel(const std::string& cell, const std::filesystem::path& file, int64_t line,
                   int64_t column) {
  char* end = nullptr;
  const double value = std::strtod(cell.c_str(), &end);
  if (cell.empty() || *end != '\0' || value < 0 || value > 255 || value != std::floor(value)) {
    throw InputError(position(file, line, column) + ": expected a pixel value 0..255, got '" +
                     cell + "'");
  }
  return static_cast<uint8_t>(value);
}

}  // namespace

SampleArray read_csv_samples(const std::filesystem::path& file, const Shape& sample_shape,
                             std::string_view what) {
  constexpr int64_t kMaxCsvBytes = int64_t{2} << 30;
  std::istringstream in(InputFile(file, what).read_all(kMaxCsvBytes));
  const int64_t values_per_sample = numel(sample_shape);
  std::vector<std::byte> images;
  int64_t rows = 0, line_number = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_number;
    if (line.empty()) continue;
    if (line_number == 1 && std::isalpha(static_cast<unsigned char>(line[0]))) continue;
    std::stringstream cells(line);
    int64_t column = 0;
    for (std::string cell; std::getline(cells, cell, ',');) {
      ++column;
      images.push_back(std::byte{read_pixel(cell, file, line_number, column)});
    }
    if (column != values_per_sample) {
      throw InputError(file.string() + ":" + std::to_string(line_number) + ": expected " +
                       std::to_string(values_per_sample) + " values, got " +
                       std::to_string(column));
    }
    ++rows;
  }
  if (rows == 0) throw InputError(file.string() + ": no samples");
  return SampleArray::owned(ElementType::uint8, sample_shape, std::move(images));
}

}  // namespace loom
