// libFuzzer target: any bytes as an image file (PNG or JPEG), decoded to gray and to RGB and
// resized. Bad input must end in an InputError; anything else is a bug (a longjmp out of
// libpng or libjpeg that skips a destructor shows as a leak or a sanitizer report).

#include <cstdint>
#include <span>
#include <vector>

#include "engine/core/error.hpp"
#include "engine/data/image_decode.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto bytes = std::as_bytes(std::span(data, size));
  for (const int64_t channels : {1, 3}) {
    try {
      const loom::DecodedImage image = loom::decode_image(bytes, "fuzz", channels, 1 << 26);
      std::vector<uint8_t> out(size_t(7 * 9 * channels));
      loom::resize_bilinear(image, 7, 9, out.data());
    } catch (const loom::InputError&) {
    }
  }
  return 0;
}
