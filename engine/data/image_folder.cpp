#include "engine/data/image_folder.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <exception>
#include <system_error>

#include "engine/core/checked.hpp"
#include "engine/core/error.hpp"
#include "engine/core/input_file.hpp"
#include "engine/core/join_names.hpp"
#include "engine/core/memory.hpp"
#include "engine/data/image_decode.hpp"

namespace loom {

namespace {

namespace fs = std::filesystem;

// A PNG or JPEG file is larger than this only if it is something else.
constexpr int64_t kMaxImageFileBytes = int64_t{1} << 28;

struct ImageShape {
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 0;
};

struct ImageListing {
  std::vector<fs::path> files;
  std::vector<int32_t> labels;
  std::vector<std::string> class_names;
};

std::string channels_name(int64_t channels) {
  return channels == 1 ? "grayscale" : "rgb";
}

// The model input as an image; `color`, when given, must agree with its channels.
ImageShape image_shape(const Shape& model_input, const ImageFolderSource::Color* color,
                       const std::string& where) {
  if (model_input.size() != 3 || (model_input[2] != 1 && model_input[2] != 3)) {
    throw InputError(where + ": images need a model input of [height, width, channels] with " +
                     "channels 1 (grayscale) or 3 (rgb), not " + to_string(model_input));
  }
  const ImageShape shape{model_input[0], model_input[1], model_input[2]};
  if (color) {
    const int64_t wanted = *color == ImageFolderSource::Color::grayscale ? 1 : 3;
    if (wanted != shape.channels) {
      throw InputError(where + ": color: " + channels_name(wanted) + " gives " +
                       std::to_string(wanted) + " channels but the model input " +
                       to_string(model_input) + " has " + std::to_string(shape.channels) +
                       ": write color: " + channels_name(shape.channels) +
                       " or change the input's last dimension to " + std::to_string(wanted));
    }
  }
  return shape;
}

bool has_image_extension(const fs::path& file) {
  std::string extension = file.extension().string();
  std::ranges::transform(extension, extension.begin(),
                         [](unsigned char c) { return char(std::tolower(c)); });
  return extension == ".png" || extension == ".jpg" || extension == ".jpeg";
}

// A regular file (through symbolic links) named as an image; a broken or looping link, a
// FIFO or a device is skipped.
bool is_image_entry(const fs::directory_entry& entry) {
  std::error_code error;
  return has_image_extension(entry.path()) && entry.is_regular_file(error) && !error;
}

[[noreturn]] void refuse_listing(const fs::path& folder, const std::error_code& error) {
  throw InputError(folder.string() + ": cannot list the folder (" + error.message() + ")");
}

// The images in `folder`, sorted by path; in its subfolders too when `recursive` (links to
// folders are not followed, so a link loop cannot make the walk endless).
std::vector<fs::path> images_in(const fs::path& folder, bool recursive) {
  std::vector<fs::path> files;
  std::error_code error;
  if (recursive) {
    fs::recursive_directory_iterator it(folder, error), end;
    for (; !error && it != end; it.increment(error)) {
      if (is_image_entry(*it)) files.push_back(it->path());
    }
  } else {
    fs::directory_iterator it(folder, error), end;
    for (; !error && it != end; it.increment(error)) {
      if (is_image_entry(*it)) files.push_back(it->path());
    }
  }
  if (error) refuse_listing(folder, error);
  std::ranges::sort(files);
  return files;
}

void expect_directory(const fs::path& folder, const std::string& where) {
  std::error_code error;
  if (!fs::is_directory(folder, error)) {
    throw InputError(where + ": " + folder.string() +
                     (fs::exists(folder, error) ? ": not a folder" : ": not found") +
                     " (image_folder expects one subfolder of PNG/JPEG images per class)");
  }
}

// The class folders' names, sorted (links to folders count as folders).
std::vector<std::string> class_folders(const fs::path& root) {
  std::vector<std::string> names;
  std::error_code error;
  fs::directory_iterator it(root, error), end;
  for (; !error && it != end; it.increment(error)) {
    std::error_code kind_error;
    if (it->is_directory(kind_error)) names.push_back(it->path().filename().string());
  }
  if (error) refuse_listing(root, error);
  std::ranges::sort(names);
  return names;
}

int32_t class_index(const std::string& name, const fs::path& folder,
                    const std::vector<std::string>* known) {
  if (!known) return -1;
  const auto found = std::ranges::find(*known, name);
  if (found == known->end()) {
    throw InputError(folder.string() + ": class '" + name +
                     "' is not one of the training set's classes (known: " + join_names(*known) +
                     ")");
  }
  return int32_t(found - known->begin());
}

ImageListing list_classes(const fs::path& root, const SourceContext& context) {
  expect_directory(root, context.where);
  ImageListing listing;
  const std::vector<std::string> names = class_folders(root);
  if (names.empty()) {
    throw InputError(root.string() + ": no class subfolders (image_folder expects one " +
                     "subfolder of PNG/JPEG images per class)");
  }
  for (const std::string& name : names) {
    const fs::path folder = root / name;
    int32_t index = class_index(name, folder, context.classes);
    if (index < 0) index = int32_t(listing.class_names.size());
    std::vector<fs::path> files = images_in(folder, true);
    if (files.empty()) {
      throw InputError(folder.string() + ": no .png, .jpg or .jpeg images in class '" + name + "'");
    }
    listing.class_names.push_back(name);
    listing.labels.insert(listing.labels.end(), files.size(), index);
    std::ranges::move(files, std::back_inserter(listing.files));
  }
  if (context.classes) listing.class_names = *context.classes;
  return listing;
}

void decode_into(const fs::path& file, const ImageShape& shape, int64_t max_bytes, uint8_t* out) {
  InputFile opened(file, "image file");
  const std::string content = opened.read_all(kMaxImageFileBytes);
  const auto bytes = std::as_bytes(std::span(content.data(), content.size()));
  const DecodedImage image = decode_image(bytes, file.string(), shape.channels, max_bytes);
  resize_bilinear(image, shape.height, shape.width, out);
}

// Every image decoded and resized, in parallel; the result and the error reported (the
// first failing file in listing order) do not depend on the thread count.
SampleArray decode_all(const std::vector<fs::path>& files, const ImageShape& shape,
                       const fs::path& source) {
  const int64_t count = std::ssize(files);
  const int64_t sample_bytes = shape.height * shape.width * shape.channels;
  const int64_t total = checked_mul(count, sample_bytes, "image folder size");
  const int64_t available = available_memory_bytes();
  if (total > available) {
    throw InputError(source.string() + ": " + std::to_string(count) + " images of " +
                     std::to_string(sample_bytes) + " bytes need " + format_bytes(total) +
                     ", more than the " + format_bytes(available) + " available");
  }
  std::vector<std::byte> pixels(static_cast<size_t>(total));
  const int64_t per_image_bytes = std::max<int64_t>(available - total, 0) / 2;
  int64_t first_failure = count;
  std::exception_ptr failure;
#pragma omp parallel for schedule(dynamic, 8)
  for (int64_t i = 0; i < count; ++i) {
    try {
      decode_into(files[size_t(i)], shape, per_image_bytes,
                  reinterpret_cast<uint8_t*>(pixels.data()) + i * sample_bytes);
    } catch (...) {
#pragma omp critical(image_folder_failure)
      if (i < first_failure) {
        first_failure = i;
        failure = std::current_exception();
      }
    }
  }
  if (failure) std::rethrow_exception(failure);
  return SampleArray::owned(ElementType::uint8, {shape.height, shape.width, shape.channels},
                            std::move(pixels));
}

}  // namespace

SourceData read_image_folder(const ImageFolderSource& source, const SourceContext& context) {
  const ImageShape shape = image_shape(context.model_input, &source.color, context.where);
  ImageListing listing = list_classes(source.directory, context);
  if (context.limit > 0 && context.limit < std::ssize(listing.files)) {
    listing.files.resize(size_t(context.limit));  // decode only what the set keeps
    listing.labels.resize(size_t(context.limit));
  }
  SourceData data{.features = decode_all(listing.files, shape, source.directory),
                  .class_names = std::move(listing.class_names)};
  std::vector<std::byte> labels(listing.labels.size() * sizeof(int32_t));
  std::memcpy(labels.data(), listing.labels.data(), labels.size());
  data.targets = SampleArray::owned(ElementType::int32, {}, std::move(labels));
  return data;
}

SourceSize inspect_image_folder(const ImageFolderSource& source, const Shape& model_input) {
  const ImageShape shape = image_shape(model_input, &source.color, "image_folder");
  const ImageListing listing = list_classes(source.directory, SourceContext{});
  const int64_t samples = std::ssize(listing.files);
  const int64_t sample_bytes = shape.height * shape.width * shape.channels + 4;
  return {.samples = samples, .bytes = checked_mul(samples, sample_bytes, "image folder size")};
}

SourceData read_images_to_predict(const fs::path& file_or_directory, const SourceContext& context) {
  const ImageShape shape = image_shape(context.model_input, nullptr, context.where);
  std::error_code error;
  std::vector<fs::path> files;
  if (fs::is_directory(file_or_directory, error)) {
    files = images_in(file_or_directory, false);
    if (files.empty()) {
      throw InputError(file_or_directory.string() +
                       ": no .png, .jpg or .jpeg images here (images to predict are read from "
                       "one flat folder, not from class subfolders)");
    }
  } else {
    files = {file_or_directory};
  }
  SourceData data{.features = decode_all(files, shape, file_or_directory)};
  if (context.classes) data.class_names = *context.classes;
  return data;
}

}  // namespace loom
