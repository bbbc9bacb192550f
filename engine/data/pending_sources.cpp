// Placeholders for the source readers being written in parallel (npy/npz, image
// folders): each is deleted when its reader lands. They refuse the format with one clear
// line rather than reading nothing.

#include "engine/core/error.hpp"
#include "engine/data/image_folder.hpp"
#include "engine/data/npy.hpp"

namespace loom {

namespace {
[[noreturn]] void not_yet(const std::string& format) {
  throw InputError("data format '" + format + "' is not available in this build yet");
}
}  // namespace

SourceData read_npy_source(const NpySource&, const SourceContext&) {
  not_yet("npy");
}
SourceSize inspect_npy_source(const NpySource&) {
  not_yet("npy");
}
SourceData read_npz_source(const NpzSource&, const SourceContext&) {
  not_yet("npz");
}
SourceSize inspect_npz_source(const NpzSource&) {
  not_yet("npz");
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
