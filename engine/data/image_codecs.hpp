#pragma once
// The two decoders behind decode_image (image_decode.hpp), each giving the image in its own
// channels (1: gray, 3: RGB) for decode_image to convert. Internal to engine/data.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "engine/data/image_decode.hpp"

namespace loom {

bool looks_like_png(std::span<const std::byte> bytes);
bool looks_like_jpeg(std::span<const std::byte> bytes);

DecodedImage decode_png(std::span<const std::byte> bytes, const std::string& name,
                        int64_t max_bytes);
DecodedImage decode_jpeg(std::span<const std::byte> bytes, const std::string& name,
                         int64_t max_bytes);

// InputError "<name>: not a decodable PNG/JPEG (<reason>)".
[[noreturn]] void refuse_image(const std::string& name, const std::string& reason);

// The pixels of a height × width × channels image, refused (refuse_image) beyond
// kMaxImageSide or `max_bytes` before anything is allocated.
void allocate_pixels(DecodedImage& image, const std::string& name, int64_t max_bytes);

}  // namespace loom
