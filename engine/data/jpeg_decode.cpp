// JPEG through libjpeg-turbo's libjpeg API. libjpeg reports errors by calling error_exit,
// which must not return: it longjmps back, so every setjmp below is in a function whose frame
// holds no object with a destructor, and the decompressor itself is owned by the caller
// (JpegDecompressor), which destroys it after any failure. The warnings that mean missing
// data (a truncated file or segment, which libjpeg would pad with gray) are errors here, as
// truncation is for TensorFlow's decoder; the others (extraneous bytes before a marker, as in
// a few of the cats-and-dogs photos of the book's §8.2) leave a whole image and are accepted.

#include <csetjmp>
#include <cstddef>
#include <cstdio>

// After them: jpeglib.h uses size_t and FILE without including their headers.
#include <jpeglib.h>
// After jpeglib.h, which it extends.
#include <jerror.h>

#include "engine/data/image_codecs.hpp"

namespace loom {

namespace {

struct JpegErrors {
  jpeg_error_mgr manager;  // first: libjpeg sees only this part
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX] = "";
  bool data_missing = false;
};

JpegErrors& errors_of(j_common_ptr info) {
  return *reinterpret_cast<JpegErrors*>(info->err);
}

[[noreturn]] void on_error(j_common_ptr info) {
  (*info->err->format_message)(info, errors_of(info).message);
  std::longjmp(errors_of(info).jump, 1);
}

// Level −1 is a warning about the data; the first one saying data is missing is kept.
// Higher levels are traces.
void on_message(j_common_ptr info, int level) {
  const int code = info->err->msg_code;
  if (level >= 0 || errors_of(info).data_missing) return;
  if (code != JWRN_JPEG_EOF && code != JWRN_HIT_MARKER) return;
  (*info->err->format_message)(info, errors_of(info).message);
  errors_of(info).data_missing = true;
}

class JpegDecompressor {
 public:
  JpegDecompressor() {
    info_.err = jpeg_std_error(&errors_.manager);
    errors_.manager.error_exit = on_error;
    errors_.manager.emit_message = on_message;
  }
  ~JpegDecompressor() { jpeg_destroy_decompress(&info_); }  // safe before create: mem is null
  JpegDecompressor(const JpegDecompressor&) = delete;
  JpegDecompressor& operator=(const JpegDecompressor&) = delete;
  jpeg_decompress_struct* info() { return &info_; }
  JpegErrors* errors() { return &errors_; }

 private:
  jpeg_decompress_struct info_{};
  JpegErrors errors_{};
};

// Reads the header and asks for gray or RGB output (CMYK is refused by the caller). No
// destructors in this frame.
bool read_jpeg_header(jpeg_decompress_struct* info, JpegErrors* errors,
                      std::span<const std::byte> bytes) {
  if (setjmp(errors->jump)) return false;
  jpeg_create_decompress(info);
  jpeg_mem_src(info, reinterpret_cast<const unsigned char*>(bytes.data()),
               static_cast<unsigned long>(bytes.size()));
  jpeg_read_header(info, TRUE);
  if (info->jpeg_color_space == JCS_GRAYSCALE) {
    info->out_color_space = JCS_GRAYSCALE;
  } else if (info->jpeg_color_space == JCS_YCbCr || info->jpeg_color_space == JCS_RGB) {
    info->out_color_space = JCS_RGB;
  }
  jpeg_calc_output_dimensions(info);  // what start_decompress will produce, before allocating
  return true;
}

// Decodes every scanline into `pixels` (height × row_bytes). No destructors in this frame.
bool read_jpeg_pixels(jpeg_decompress_struct* info, JpegErrors* errors, uint8_t* pixels,
                      size_t row_bytes) {
  if (setjmp(errors->jump)) return false;
  jpeg_start_decompress(info);
  while (info->output_scanline < info->output_height) {
    JSAMPROW row = pixels + size_t(info->output_scanline) * row_bytes;
    jpeg_read_scanlines(info, &row, 1);
  }
  jpeg_finish_decompress(info);
  return true;
}

}  // namespace

bool looks_like_jpeg(std::span<const std::byte> bytes) {
  return bytes.size() >= 3 && bytes[0] == std::byte{0xff} && bytes[1] == std::byte{0xd8} &&
         bytes[2] == std::byte{0xff};
}

DecodedImage decode_jpeg(std::span<const std::byte> bytes, const std::string& name,
                         int64_t max_bytes) {
  JpegDecompressor decompressor;
  jpeg_decompress_struct* info = decompressor.info();
  if (!read_jpeg_header(info, decompressor.errors(), bytes)) {
    refuse_image(name, decompressor.errors()->message);
  }
  if (info->out_color_space != JCS_GRAYSCALE && info->out_color_space != JCS_RGB) {
    refuse_image(name, "CMYK and YCCK JPEG images are not supported");
  }
  DecodedImage image;
  image.height = info->output_height;
  image.width = info->output_width;
  image.channels = info->out_color_space == JCS_GRAYSCALE ? 1 : 3;
  if (info->output_components != image.channels) {
    refuse_image(name, "the decoder's output does not match the header");
  }
  allocate_pixels(image, name, max_bytes);
  const size_t row_bytes = size_t(image.width * image.channels);
  if (!read_jpeg_pixels(info, decompressor.errors(), image.pixels.data(), row_bytes)) {
    refuse_image(name, decompressor.errors()->message);
  }
  if (decompressor.errors()->data_missing) refuse_image(name, decompressor.errors()->message);
  return image;
}

}  // namespace loom
