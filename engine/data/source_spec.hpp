#pragma once
// The source formats a data set can be read from: one struct per format, naming its files
// (already resolved against data.root) and its own options.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace loom {

// MNIST's idx files: one for the samples, one for the targets (absent: samples to predict).
struct IdxSource {
  std::filesystem::path images;
  std::filesystem::path labels;
};

// NumPy: one .npy file per array, memory-mapped where the array allows it.
struct NpySource {
  std::filesystem::path features;
  std::filesystem::path targets;  // empty: none
};

// NumPy's .npz archive: the arrays are named by their keys in it ("x_train", "y_train").
struct NpzSource {
  std::filesystem::path file;
  std::string features;
  std::string targets;  // empty: none
};

// A CSV column by its header name or its 0-based index; a range "a:b" (half-open, as Python
// slices, either end optional, negative ends count from the last column) selects several.
struct ColumnSelector {
  std::string text;             // as written, for messages
  std::string name;             // a header name, or empty
  int64_t first = 0;            // a single index, or a range's start
  std::optional<int64_t> last;  // a range's end (exclusive); absent: a single column
  bool is_range = false;
  bool open_end = false;  // "a:" runs to the last column
  std::string where;      // its config position
};

struct CsvSource {
  std::filesystem::path file;  // plain or gzip (detected from the content)
  bool header = true;          // the first row (after skip_rows) names the columns
  int64_t skip_rows = 0;       // lines skipped before the header or the first row
  char delimiter = ',';
  std::vector<ColumnSelector> features;  // empty: every column that is not a target
  std::vector<ColumnSelector> targets;   // empty: none (samples to predict)
  // The class names, in index order, for string labels; empty: learnt from the training
  // set (sorted), or numeric targets.
  std::vector<std::string> class_names;
};

// Keras's image_dataset_from_directory: one subfolder per class, its name the class name;
// PNG and JPEG files, resized (bilinear) to the model input's height and width.
struct ImageFolderSource {
  std::filesystem::path directory;
  enum class Color { grayscale, rgb } color = Color::rgb;
};

using DataSource = std::variant<IdxSource, NpySource, NpzSource, CsvSource, ImageFolderSource>;

// The files a source reads its features and its targets from, for messages ("d.npz:x_train").
struct SourceFiles {
  std::string features;
  std::string targets;
};
SourceFiles source_files(const DataSource& source);

// The format's name as a config writes it: "idx", "npy", "npz", "csv", "image_folder".
std::string format_name(const DataSource& source);

}  // namespace loom
