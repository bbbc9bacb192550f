#pragma once
// PNG (libpng) and JPEG (libjpeg-turbo) images decoded from memory into 8-bit pixels, rows
// top to bottom, channels last, with the channel count the model wants: gray is replicated
// into RGB, RGB becomes gray with the ITU-R 601 luma weights (as PIL and Keras do), alpha is
// dropped, 16-bit samples keep their high byte, palettes are expanded. The format is told by
// the content, never by the file's name.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace loom {

// The largest side an image may have: larger is refused from its header, before decoding.
inline constexpr int64_t kMaxImageSide = 16384;

struct DecodedImage {
  int64_t height = 0;
  int64_t width = 0;
  int64_t channels = 0;         // 1 or 3
  std::vector<uint8_t> pixels;  // height × width × channels
};

// Decodes `bytes` (the whole file) to `channels` (1 or 3). `name` is the file, for messages;
// `max_bytes` bounds the decoded pixels (the memory this decode may take). InputError
// "<name>: not a decodable PNG/JPEG (<the library's reason>)" for anything else: a
// truncated or corrupt image, a text file named .png, a side beyond kMaxImageSide.
DecodedImage decode_image(std::span<const std::byte> bytes, const std::string& name,
                          int64_t channels, int64_t max_bytes);

// Bilinear resampling to height × width, as TensorFlow's resize (Keras's default
// interpolation) with half-pixel centers: output pixel i samples the input at
// (i + 0.5) · in/out − 0.5, edges clamped, no antialiasing; values rounded to the nearest
// integer (Keras keeps the floats). Same size: the pixels are copied exactly.
void resize_bilinear(const DecodedImage& image, int64_t height, int64_t width, uint8_t* out);

}  // namespace loom
