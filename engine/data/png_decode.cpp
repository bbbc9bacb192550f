// PNG through libpng. libpng reports errors by longjmp: the jump must not cross a C++ frame
// that owns an object with a destructor, so every setjmp below is in a function whose frame
// holds none, libpng's callbacks hold none, and whatever a step allocates is owned by the
// caller (png_structs by PngHandles, pixels by the DecodedImage) before libpng runs again.

#include <png.h>

#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <vector>

#include "engine/data/image_codecs.hpp"

namespace loom {

namespace {

// All that libpng's callbacks and the setjmp functions touch, reached through one pointer.
struct PngState {
  const png_byte* data = nullptr;
  size_t size = 0;
  size_t offset = 0;
  char message[512] = "";
  char warning[256] = "";  // the last warning, which often says why an error follows
};

void read_from_memory(png_structp png, png_bytep out, size_t count) {
  auto* state = static_cast<PngState*>(png_get_io_ptr(png));
  if (count > state->size - state->offset) png_error(png, "the file ends inside the image");
  std::memcpy(out, state->data + state->offset, count);
  state->offset += count;
}

void on_error(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngState*>(png_get_error_ptr(png));
  if (state->warning[0] != '\0') {
    std::snprintf(state->message, sizeof state->message, "%s: %s", message, state->warning);
  } else {
    std::snprintf(state->message, sizeof state->message, "%s", message);
  }
  png_longjmp(png, 1);
}

// Warnings alone (an odd colour profile, a text chunk's encoding) do not affect the pixels;
// the last one is kept for the error that may follow ("Invalid IHDR data" says no more).
void on_warning(png_structp png, png_const_charp message) {
  auto* state = static_cast<PngState*>(png_get_error_ptr(png));
  std::snprintf(state->warning, sizeof state->warning, "%s", message);
}

class PngHandles {
 public:
  explicit PngHandles(PngState& state) {
    png_ = png_create_read_struct(PNG_LIBPNG_VER_STRING, &state, on_error, on_warning);
    if (png_) info_ = png_create_info_struct(png_);
  }
  ~PngHandles() { png_destroy_read_struct(&png_, &info_, nullptr); }
  PngHandles(const PngHandles&) = delete;
  PngHandles& operator=(const PngHandles&) = delete;
  png_structp png() const { return png_; }
  png_infop info() const { return info_; }

 private:
  png_structp png_ = nullptr;
  png_infop info_ = nullptr;
};

// Reads the header and sets up the conversion to 8-bit gray or RGB without alpha (palette
// expanded, 1/2/4-bit gray widened, 16-bit samples keeping their high byte as TensorFlow's
// uint16→uint8 conversion does, transparency ignored). No destructors in this frame.
bool read_png_header(png_structp png, png_infop info, PngState* state) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_set_read_fn(png, state, read_from_memory);
  png_set_user_limits(png, kMaxImageSide, kMaxImageSide);
  png_read_info(png, info);
  png_set_palette_to_rgb(png);
  png_set_expand_gray_1_2_4_to_8(png);
  png_set_strip_16(png);
  png_set_strip_alpha(png);
  png_set_interlace_handling(png);
  png_read_update_info(png, info);
  return true;
}

// Decodes every row into `rows` and checks the file reaches its end chunk. No destructors
// in this frame.
bool read_png_pixels(png_structp png, png_infop info, png_bytepp rows) {
  if (setjmp(png_jmpbuf(png))) return false;
  png_read_image(png, rows);
  png_read_end(png, info);
  return true;
}

}  // namespace

bool looks_like_png(std::span<const std::byte> bytes) {
  return bytes.size() >= 8 &&
         png_sig_cmp(reinterpret_cast<png_const_bytep>(bytes.data()), 0, 8) == 0;
}

DecodedImage decode_png(std::span<const std::byte> bytes, const std::string& name,
                        int64_t max_bytes) {
  PngState state;
  state.data = reinterpret_cast<const png_byte*>(bytes.data());
  state.size = bytes.size();
  PngHandles handles(state);
  if (!handles.png() || !handles.info()) refuse_image(name, "libpng could not start");
  if (!read_png_header(handles.png(), handles.info(), &state)) refuse_image(name, state.message);

  DecodedImage image;
  image.height = png_get_image_height(handles.png(), handles.info());
  image.width = png_get_image_width(handles.png(), handles.info());
  image.channels = png_get_channels(handles.png(), handles.info());
  if (image.channels != 1 && image.channels != 3) {
    refuse_image(name, std::to_string(image.channels) + " channels after conversion");
  }
  allocate_pixels(image, name, max_bytes);
  std::vector<png_bytep> rows(size_t(image.height));
  for (int64_t y = 0; y < image.height; ++y) {
    rows[size_t(y)] = image.pixels.data() + y * image.width * image.channels;
  }
  if (!read_png_pixels(handles.png(), handles.info(), rows.data())) {
    refuse_image(name, state.message);
  }
  return image;
}

}  // namespace loom
