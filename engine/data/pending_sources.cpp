// Placeholders for the source readers being written in parallel (CSV, image
// folders): each is deleted when its reader lands. They refuse the format with one clear
// line rather than reading nothing.

#include "engine/core/error.hpp"
#include "engine/data/csv_source.hpp"
#include "engine/data/image_folder.hpp"

namespace loom {

namespace {
[[noreturn]] void not_yet(const std::string& format) {
  throw InputError("data format '" + format + "' is not available in this build yet");
}
}  // namespace

SourceData read_csv_source(const CsvSource&, const SourceContext&) {
  not_yet("csv");
}
SourceSize inspect_csv_source(const CsvSource&) {
  not_yet("csv");
}
SourceData read_image_folder(const ImageFolderSource&, const SourceContext&) {
  not_yet("image_folder");
}
SourceData read_images_to_predict(const std::filesystem::path&, const SourceContext&) {
  not_yet("image_folder");
}
SourceSize inspect_image_folder(const ImageFolderSource&, const Shape&) {
  not_yet("image_folder");
}

}  // namespace loom
