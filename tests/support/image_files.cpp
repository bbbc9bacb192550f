#include "tests/support/image_files.hpp"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdio>
#include <fstream>
#include <iterator>

// After them: jpeglib.h uses size_t and FILE without including their headers.
#include <jpeglib.h>
#include <png.h>

namespace loom::testing {

namespace {

void write_simplified_png(const std::string& file, png_image& image, const void* pixels,
                          const void* colormap = nullptr) {
  image.version = PNG_IMAGE_VERSION;
  ASSERT_TRUE(png_image_write_to_file(&image, file.c_str(), 0, pixels, 0, colormap))
      << file << ": " << image.message;
}

}  // namespace

void write_png(const std::string& file, int64_t height, int64_t width, int64_t channels,
               const std::vector<uint8_t>& pixels) {
  png_image image{};
  image.width = png_uint_32(width);
  image.height = png_uint_32(height);
  image.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
  write_simplified_png(file, image, pixels.data());
}

void write_png16(const std::string& file, int64_t height, int64_t width,
                 const std::vector<uint16_t>& samples) {
  png_image image{};
  image.width = png_uint_32(width);
  image.height = png_uint_32(height);
  image.format = PNG_FORMAT_LINEAR_Y;  // 16-bit samples, written as given
  write_simplified_png(file, image, samples.data());
}

void write_png_palette(const std::string& file, int64_t height, int64_t width,
                       const std::vector<uint8_t>& indices, const std::vector<uint8_t>& palette) {
  png_image image{};
  image.width = png_uint_32(width);
  image.height = png_uint_32(height);
  image.format = PNG_FORMAT_RGB_COLORMAP;
  image.colormap_entries = png_uint_32(palette.size() / 3);
  write_simplified_png(file, image, indices.data(), palette.data());
}

void write_jpeg(const std::string& file, int64_t height, int64_t width, int64_t channels,
                const std::vector<uint8_t>& pixels, int quality) {
  FILE* out = std::fopen(file.c_str(), "wb");
  ASSERT_NE(out, nullptr) << file;
  jpeg_compress_struct info{};
  jpeg_error_mgr errors{};
  info.err = jpeg_std_error(&errors);  // the default handler exits: fine for a test's writer
  jpeg_create_compress(&info);
  jpeg_stdio_dest(&info, out);
  info.image_width = JDIMENSION(width);
  info.image_height = JDIMENSION(height);
  info.input_components = int(channels);
  info.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, quality, TRUE);
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(pixels.data()) + info.next_scanline * width * channels;
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
  std::fclose(out);
}

std::vector<uint8_t> read_file_bytes(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file_bytes(const std::string& file, const std::vector<uint8_t>& bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

}  // namespace loom::testing
