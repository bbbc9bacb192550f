#include "engine/data/source_spec.hpp"

namespace loom {

std::string format_name(const DataSource& source) {
  struct Name {
    const char* operator()(const IdxSource&) const { return "idx"; }
    const char* operator()(const NpySource&) const { return "npy"; }
    const char* operator()(const NpzSource&) const { return "npz"; }
    const char* operator()(const CsvSource&) const { return "csv"; }
    const char* operator()(const ImageFolderSource&) const { return "image_folder"; }
  };
  return std::visit(Name{}, source);
}

SourceFiles source_files(const DataSource& source) {
  struct Files {
    SourceFiles operator()(const IdxSource& s) const {
      return {s.images.string(), s.labels.string()};
    }
    SourceFiles operator()(const NpySource& s) const {
      return {s.features.string(), s.targets.string()};
    }
    SourceFiles operator()(const NpzSource& s) const {
      return {s.file.string() + ":" + s.features, s.file.string() + ":" + s.targets};
    }
    SourceFiles operator()(const CsvSource& s) const { return {s.file.string(), s.file.string()}; }
    SourceFiles operator()(const ImageFolderSource& s) const {
      return {s.directory.string(), s.directory.string()};
    }
  };
  return std::visit(Files{}, source);
}

}  // namespace loom
