#pragma once
// Keras's image_dataset_from_directory: one subfolder per class (sorted names are the class
// names), PNG and JPEG images decoded, converted to the model's channels and resized
// (bilinear) to its height and width, held as uint8 [height, width, channels].

#include <filesystem>

#include "engine/data/source.hpp"

namespace loom {

SourceData read_image_folder(const ImageFolderSource& source, const SourceContext& context);
// Samples to predict: one image file, or a folder of images (no class subfolders).
SourceData read_images_to_predict(const std::filesystem::path& file_or_directory,
                                  const SourceContext& context);
SourceSize inspect_image_folder(const ImageFolderSource& source, const Shape& model_input);

}  // namespace loom
