#include "engine/data/image_decode.hpp"

#include <algorithm>
#include <cmath>

#include "engine/core/error.hpp"
#include "engine/core/memory.hpp"
#include "engine/data/image_codecs.hpp"

namespace loom {

namespace {

// PIL's "L" conversion (what Keras's load_img uses): ITU-R 601 weights in 16-bit fixed
// point, rounded: L = (19595 R + 38470 G + 7471 B + 2^15) >> 16.
uint8_t luma(const uint8_t* rgb) {
  return uint8_t((19595u * rgb[0] + 38470u * rgb[1] + 7471u * rgb[2] + 0x8000u) >> 16);
}

DecodedImage with_channels(DecodedImage image, int64_t channels) {
  if (image.channels == channels) return image;
  const int64_t pixels = image.height * image.width;
  DecodedImage converted{image.height, image.width, channels,
                         std::vector<uint8_t>(size_t(pixels * channels))};
  const uint8_t* from = image.pixels.data();
  uint8_t* to = converted.pixels.data();
  if (channels == 1) {
    for (int64_t i = 0; i < pixels; ++i) to[i] = luma(from + 3 * i);
  } else {
    for (int64_t i = 0; i < pixels; ++i) to[3 * i] = to[3 * i + 1] = to[3 * i + 2] = from[i];
  }
  return converted;
}

// TensorFlow's half-pixel source positions for one axis: the lower and upper neighbours and
// the upper one's weight, per output index.
struct AxisWeights {
  std::vector<int64_t> lower, upper;
  std::vector<float> fraction;
};

AxisWeights axis_weights(int64_t in_size, int64_t out_size) {
  AxisWeights weights;
  const double scale = double(in_size) / double(out_size);
  for (int64_t i = 0; i < out_size; ++i) {
    const double position = (double(i) + 0.5) * scale - 0.5;
    const double floor = std::floor(position);
    weights.lower.push_back(std::clamp<int64_t>(int64_t(floor), 0, in_size - 1));
    weights.upper.push_back(std::clamp<int64_t>(int64_t(std::ceil(position)), 0, in_size - 1));
    weights.fraction.push_back(float(position - floor));
  }
  return weights;
}

}  // namespace

void refuse_image(const std::string& name, const std::string& reason) {
  throw InputError(name + ": not a decodable PNG/JPEG (" + reason + ")");
}

void allocate_pixels(DecodedImage& image, const std::string& name, int64_t max_bytes) {
  if (image.height < 1 || image.width < 1 || image.height > kMaxImageSide ||
      image.width > kMaxImageSide) {
    refuse_image(name, std::to_string(image.width) + "×" + std::to_string(image.height) +
                           " pixels: each side must be 1 to " + std::to_string(kMaxImageSide));
  }
  // At most 16384² × 3: no overflow. Counted twice: a channel conversion copies the image.
  const int64_t bytes = image.height * image.width * image.channels;
  if (2 * bytes > max_bytes) {
    refuse_image(name, std::to_string(image.width) + "×" + std::to_string(image.height) +
                           " pixels need " + format_bytes(2 * bytes) + ", more than the " +
                           format_bytes(max_bytes) + " available");
  }
  image.pixels.resize(size_t(bytes));
}

DecodedImage decode_image(std::span<const std::byte> bytes, const std::string& name,
                          int64_t channels, int64_t max_bytes) {
  DecodedImage image;
  if (looks_like_png(bytes)) {
    image = decode_png(bytes, name, max_bytes);
  } else if (looks_like_jpeg(bytes)) {
    image = decode_jpeg(bytes, name, max_bytes);
  } else {
    refuse_image(name, "neither a PNG nor a JPEG signature");
  }
  return with_channels(std::move(image), channels);
}

void resize_bilinear(const DecodedImage& image, int64_t height, int64_t width, uint8_t* out) {
  const int64_t channels = image.channels;
  if (image.height == height && image.width == width) {
    std::copy(image.pixels.begin(), image.pixels.end(), out);
    return;
  }
  const AxisWeights rows = axis_weights(image.height, height);
  const AxisWeights columns = axis_weights(image.width, width);
  const uint8_t* in = image.pixels.data();
  const int64_t row_stride = image.width * channels;
  for (int64_t y = 0; y < height; ++y) {
    const uint8_t* top = in + rows.lower[size_t(y)] * row_stride;
    const uint8_t* bottom = in + rows.upper[size_t(y)] * row_stride;
    const float dy = rows.fraction[size_t(y)];
    for (int64_t x = 0; x < width; ++x) {
      const int64_t left = columns.lower[size_t(x)] * channels;
      const int64_t right = columns.upper[size_t(x)] * channels;
      const float dx = columns.fraction[size_t(x)];
      for (int64_t c = 0; c < channels; ++c) {
        const float upper = top[left + c] + (top[right + c] - top[left + c]) * dx;
        const float lower = bottom[left + c] + (bottom[right + c] - bottom[left + c]) * dx;
        const float value = upper + (lower - upper) * dy;
        out[(y * width + x) * channels + c] = uint8_t(std::clamp(std::lround(value), 0L, 255L));
      }
    }
  }
}

}  // namespace loom
