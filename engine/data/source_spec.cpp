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

std::string features_file(const DataSource& source) {
  struct File {
    std::string operator()(const IdxSource& s) const { return s.images.string(); }
    std::string operator()(const NpySource& s) const { return s.features.string(); }
    std::string operator()(const NpzSource& s) const { return s.file.string() + ":" + s.features; }
    std::string operator()(const CsvSource& s) const { return s.file.string(); }
    std::string operator()(const ImageFolderSource& s) const { return s.directory.string(); }
  };
  return std::visit(File{}, source);
}

std::string targets_file(const DataSource& source) {
  struct File {
    std::string operator()(const IdxSource& s) const { return s.labels.string(); }
    std::string operator()(const NpySource& s) const { return s.targets.string(); }
    std::string operator()(const NpzSource& s) const { return s.file.string() + ":" + s.targets; }
    std::string operator()(const CsvSource& s) const { return s.file.string(); }
    std::string operator()(const ImageFolderSource& s) const { return s.directory.string(); }
  };
  return std::visit(File{}, source);
}

}  // namespace loom
