#include "engine/config/read_data.hpp"

#include <algorithm>

#include "engine/config/read_augmentation.hpp"
#include "engine/config/read_values.hpp"
#include "engine/core/error.hpp"
#include "engine/core/input_file.hpp"

namespace loom {

namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kFormats = {"csv", "idx", "image_folder", "npy", "npz"};

// `checked`: the path must exist now (it is checked again when it is read).
fs::path resolve_path(ConfigNode node, const fs::path& root, bool checked, bool directory) {
  const fs::path path = root / node.as_string();
  if (!checked) return path;
  try {
    if (!directory) {
      expect_regular_file(path, "data file");
    } else if (std::error_code error; !fs::is_directory(path, error)) {
      throw InputError("not a directory: " + path.string());
    }
  } catch (const InputError& error) {
    node.fail(error.what());
  }
  return path;
}

// One column selector: a header name, an index (negative counts from the end), or a range
// "a:b" of indices (either end optional).
ColumnSelector read_column(ConfigNode node) {
  ColumnSelector column{.text = node.as_string(), .where = node.where()};
  const std::string& text = column.text;
  auto parse_index = [&](const std::string& part) -> int64_t {
    size_t used = 0;
    int64_t value = 0;
    try {
      value = std::stoll(part, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != part.size() || part.empty()) {
      node.fail("expected a column index, a range 'a:b' or a header name, got '" + text + "'");
    }
    return value;
  };
  if (const size_t colon = text.find(':'); colon != std::string::npos) {
    column.is_range = true;
    const std::string first = text.substr(0, colon), last = text.substr(colon + 1);
    column.first = first.empty() ? 0 : parse_index(first);
    if (last.empty()) {
      column.open_end = true;
    } else {
      column.last = parse_index(last);
    }
    return column;
  }
  const bool numeric = !text.empty() && (std::isdigit(static_cast<unsigned char>(text[0])) ||
                                         (text[0] == '-' && text.size() > 1));
  if (numeric) {
    column.first = parse_index(text);
  } else {
    column.name = text;
  }
  return column;
}

std::vector<ColumnSelector> read_columns(ConfigNode node) {
  std::vector<ColumnSelector> columns;
  if (node.is_scalar()) return {read_column(node)};
  node.expect_sequence();
  if (node.size() == 0) node.fail("expected at least one column");
  for (size_t i = 0; i < node.size(); ++i) columns.push_back(read_column(node[i]));
  return columns;
}

CsvSource read_csv(ConfigNode& node, const fs::path& root, bool checked) {
  CsvSource csv;
  csv.file = resolve_path(node.at("file"), root, checked, false);
  csv.header = node.get_bool("header", true);
  csv.skip_rows = node.get_int("skip_rows", 0, 0);
  if (auto delimiter = node.find("delimiter")) {
    const std::string text = delimiter->as_string();
    if (text == "\\t" || text == "tab") {
      csv.delimiter = '\t';
    } else if (text.size() != 1 || text == "\"" || text == "\n" || text == "\r") {
      delimiter->fail("expected one character (or \\t), got '" + text + "'");
    } else {
      csv.delimiter = text[0];
    }
  }
  if (auto features = node.find("features")) csv.features = read_columns(*features);
  csv.targets = read_columns(node.at("targets"));
  if (auto names = node.find("class_names")) {
    names->expect_sequence();
    for (size_t i = 0; i < names->size(); ++i) {
      const std::string name = (*names)[i].as_string();
      if (contains(csv.class_names, name)) (*names)[i].fail("class '" + name + "' is listed twice");
      csv.class_names.push_back(name);
    }
  }
  return csv;
}

DataSource read_source(ConfigNode& node, const std::string& format, const fs::path& root,
                       bool checked) {
  if (format == "idx") {
    return IdxSource{.images = resolve_path(node.at("images"), root, checked, false),
                     .labels = resolve_path(node.at("labels"), root, checked, false)};
  }
  if (format == "npy") {
    return NpySource{.features = resolve_path(node.at("features"), root, checked, false),
                     .targets = resolve_path(node.at("targets"), root, checked, false)};
  }
  if (format == "npz") {
    return NpzSource{.file = resolve_path(node.at("file"), root, checked, false),
                     .features = node.at("features").as_string(),
                     .targets = node.at("targets").as_string()};
  }
  if (format == "csv") return read_csv(node, root, checked);
  ImageFolderSource folder{.directory = resolve_path(node.at("directory"), root, checked, true)};
  if (auto color = node.find("color")) {
    folder.color = choose(*color, {"grayscale", "rgb"}, "color") == "rgb"
                       ? ImageFolderSource::Color::rgb
                       : ImageFolderSource::Color::grayscale;
  }
  return folder;
}

DatasetSpec read_dataset(ConfigNode node, const fs::path& root, bool checked) {
  node.expect_map();
  DatasetSpec spec;
  spec.where = node.where();
  std::string format = "idx";
  if (auto given = node.find("format")) format = choose(*given, kFormats, "data format");
  spec.source = read_source(node, format, root, checked);
  spec.limit = node.get_int("limit", 0, 0);
  node.finish();
  return spec;
}

std::optional<double> read_scale(ConfigNode& node) {
  auto scale = node.find("scale");
  if (!scale || (scale->is_scalar() && scale->as_string() == "auto")) return std::nullopt;
  return scale->as_real(0.0);
}

YAML::Node columns_yaml(const std::vector<ColumnSelector>& columns) {
  YAML::Node node;
  for (const ColumnSelector& column : columns) node.push_back(column.text);
  return node;
}

// One source's keys, as read_source reads them.
struct SourceYaml {
  YAML::Node& node;
  void operator()(const IdxSource& idx) const {
    node["images"] = idx.images.string();
    if (!idx.labels.empty()) node["labels"] = idx.labels.string();
  }
  void operator()(const NpySource& npy) const {
    node["features"] = npy.features.string();
    if (!npy.targets.empty()) node["targets"] = npy.targets.string();
  }
  void operator()(const NpzSource& npz) const {
    node["file"] = npz.file.string();
    node["features"] = npz.features;
    if (!npz.targets.empty()) node["targets"] = npz.targets;
  }
  void operator()(const CsvSource& csv) const {
    node["file"] = csv.file.string();
    node["header"] = csv.header;
    node["skip_rows"] = csv.skip_rows;
    node["delimiter"] = csv.delimiter == '\t' ? std::string("\\t") : std::string(1, csv.delimiter);
    if (!csv.features.empty()) node["features"] = columns_yaml(csv.features);
    if (!csv.targets.empty()) node["targets"] = columns_yaml(csv.targets);
    if (!csv.class_names.empty()) {
      for (const std::string& name : csv.class_names) node["class_names"].push_back(name);
    }
  }
  void operator()(const ImageFolderSource& folder) const {
    node["directory"] = folder.directory.string();
    node["color"] = folder.color == ImageFolderSource::Color::rgb ? "rgb" : "grayscale";
  }
};

YAML::Node dataset_yaml(const DatasetSpec& spec) {
  YAML::Node node;
  node["format"] = format_name(spec.source);
  std::visit(SourceYaml{node}, spec.source);
  node["limit"] = spec.limit;
  return node;
}

}  // namespace

DataSpec read_data(ConfigNode node, const fs::path& config_directory, DataUse use) {
  node.expect_map();
  DataSpec spec;
  fs::path root = config_directory;
  if (auto given = node.find("root")) {
    root = fs::path(given->as_string());
    if (root.is_relative()) root = config_directory / root;
    std::error_code error;
    if (use != DataUse::model && !fs::is_directory(root, error)) {
      given->fail("not a directory: " + root.string());
    }
  }
  spec.train = read_dataset(node.at("train"), root, use == DataUse::training);
  const bool sets_checked = use != DataUse::model;
  if (auto validation = node.find("validation")) {
    spec.validation = read_dataset(*validation, root, sets_checked);
  }
  if (auto split = node.find("validation_split")) {
    if (spec.validation)
      split->fail("give either data.validation or data.validation_split, not both");
    spec.validation_split = split->as_real(0.0, 0.99);
  }
  if (auto test = node.find("test")) spec.test = read_dataset(*test, root, sets_checked);
  spec.scale = read_scale(node);
  if (auto augmentation = node.find("augmentation")) {
    spec.augmentation = read_augmentation(*augmentation);
    spec.augmentation_where = augmentation->where();
  }
  spec.shuffle_before_split = node.get_bool("shuffle_before_split", false);
  node.finish();
  return spec;
}

DatasetRequest dataset_request(const Experiment& experiment, int64_t units,
                               const std::vector<std::string>* classes) {
  return {.model_input = experiment.model.input.shape,
          .targets = {.family = experiment.trainer.loss.targets,
                      .width = units,
                      .loss = experiment.trainer.loss.name},
          .scale = experiment.data.scale,
          .classes = classes && !classes->empty() ? classes : nullptr};
}

namespace {

enum class InputKind { npy, npz, csv, images, idx };

InputKind input_kind(const fs::path& input) {
  std::string extension = input.extension().string();
  std::ranges::transform(extension, extension.begin(),
                         [](unsigned char c) { return std::tolower(c); });
  std::error_code error;
  if (extension == ".npy") return InputKind::npy;
  if (extension == ".npz") return InputKind::npz;
  if (extension == ".csv" || input.string().ends_with(".csv.gz")) return InputKind::csv;
  if (fs::is_directory(input, error) || extension == ".png" || extension == ".jpg" ||
      extension == ".jpeg") {
    return InputKind::images;
  }
  return InputKind::idx;
}

// npy and idx keep their targets in a file of their own; the others hold them (a key, columns,
// class folders).
void check_targets_file(InputKind kind, const std::string& where,
                        const std::optional<fs::path>& targets) {
  if (!targets) return;
  const bool separate = kind == InputKind::npy || kind == InputKind::idx;
  if (separate && targets->empty())
    throw InputError(where + ": give its targets with --targets FILE");
  if (!separate && !targets->empty()) {
    throw InputError("--targets " + targets->string() + ": " + where +
                     " holds its own targets (the training set's key or columns, or class "
                     "folders)");
  }
}

}  // namespace

std::optional<DatasetSpec> input_source(const DataSpec& data, const fs::path& input,
                                        const std::optional<fs::path>& targets) {
  const DataSource& trained = data.train.source;
  DatasetSpec spec{.where = "--input " + input.string()};
  const InputKind kind = input_kind(input);
  check_targets_file(kind, spec.where, targets);
  const fs::path targets_file = targets.value_or(fs::path());
  switch (kind) {
    case InputKind::npy:
      spec.source = NpySource{.features = input, .targets = targets_file};
      break;
    case InputKind::npz: {
      const auto* npz = std::get_if<NpzSource>(&trained);
      if (!npz) {
        throw InputError(spec.where +
                         ": an .npz input needs a model trained on npz data "
                         "(its features key names the array)");
      }
      spec.source = NpzSource{
          .file = input, .features = npz->features, .targets = targets ? npz->targets : ""};
      break;
    }
    case InputKind::csv: {
      const auto* csv = std::get_if<CsvSource>(&trained);
      if (!csv) return std::nullopt;
      CsvSource options = *csv;
      options.file = input;
      options.skip_rows = 0;  // a count line or a preamble belongs to the training file
      spec.source = options;
      break;
    }
    case InputKind::images: {
      const auto* folder = std::get_if<ImageFolderSource>(&trained);
      spec.source = ImageFolderSource{
          .directory = input, .color = folder ? folder->color : ImageFolderSource::Color::rgb};
      break;
    }
    case InputKind::idx:
      spec.source = IdxSource{.images = input, .labels = targets_file};
      break;
  }
  return spec;
}

YAML::Node data_yaml(const DataSpec& data) {
  YAML::Node node;
  node["train"] = dataset_yaml(data.train);
  if (data.validation) node["validation"] = dataset_yaml(*data.validation);
  if (data.validation_split > 0) node["validation_split"] = data.validation_split;
  if (data.test) node["test"] = dataset_yaml(*data.test);
  if (data.scale) {
    node["scale"] = *data.scale;
  } else {
    node["scale"] = "auto";
  }
  if (data.augmentation) node["augmentation"] = augmentation_yaml(*data.augmentation);
  node["shuffle_before_split"] = data.shuffle_before_split;
  return node;
}

}  // namespace loom
