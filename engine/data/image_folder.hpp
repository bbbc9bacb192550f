#pragma once
// Keras's image_dataset_from_directory: one subfolder per class (sorted names are the class
// names), PNG and JPEG images decoded, converted to the model's channels and resized
// (bilinear) to its height and width, held as uint8 [height, width, channels].
//
// A class folder's images are its files named *.png, *.jpg or *.jpeg (any case), in its
// subfolders too, sorted by path; other files are ignored, as Keras ignores them. Symbolic
// links to files are followed; links to folders inside a class folder are not (no loops),
// and anything that is not a regular file (a FIFO, a device, a broken link) is skipped.
// The model input must be [height, width, channels] with channels 1 (color: grayscale) or
// 3 (color: rgb). Targets are int32 class indices; for validation, test and predict sets
// (context.classes given) each folder must name a training class and gets its index.

#include <filesystem>

#include "engine/data/source.hpp"

namespace loom {

SourceData read_image_folder(const ImageFolderSource& source, const SourceContext& context);
SourceSize inspect_image_folder(const ImageFolderSource& source, const Shape& model_input);

// `trainer predict --input`: one image file, or a flat folder of them (sorted by name, other
// files and subfolders ignored). The channels follow the model input (1: gray, 3: RGB).
SourceData read_images_to_predict(const std::filesystem::path& file_or_directory,
                                  const SourceContext& context);

}  // namespace loom
