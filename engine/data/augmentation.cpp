#include "engine/data/augmentation.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <vector>

#include "engine/core/random.hpp"

namespace loom {

namespace {

// in = A · out: in_x = xx·x + xy·y + x0, in_y = yx·x + yy·y + y0 (pixel indices).
struct Affine {
  double xx = 1, xy = 0, x0 = 0;
  double yx = 0, yy = 1, y0 = 0;
};

// p ↦ a(b(p)): an image transformed by a, then by b, reads the original at a(b(p)).
Affine compose(const Affine& a, const Affine& b) {
  return {a.xx * b.xx + a.xy * b.yx, a.xx * b.xy + a.xy * b.yy, a.xx * b.x0 + a.xy * b.y0 + a.x0,
          a.yx * b.xx + a.yy * b.yx, a.yx * b.xy + a.yy * b.yy, a.yx * b.x0 + a.yy * b.y0 + a.y0};
}

// A linear map [[xx, xy], [yx, yy]] about the image centre.
Affine about_centre(double xx, double xy, double yx, double yy, double height, double width) {
  const double cx = (width - 1) / 2, cy = (height - 1) / 2;
  return {xx, xy, cx - xx * cx - xy * cy, yx, yy, cy - yx * cx - yy * cy};
}

bool flips(AugmentationSpec::Flip flip, bool horizontal) {
  using Flip = AugmentationSpec::Flip;
  return flip == Flip::horizontal_and_vertical ||
         flip == (horizontal ? Flip::horizontal : Flip::vertical);
}

// The sample's transform, drawing in a fixed order: flips, rotation, zoom, translation,
// crop (Keras's layer order in the book: flip, then rotation, then zoom).
Affine random_transform(const AugmentationSpec& spec, Random& random, double height, double width) {
  Affine map;
  if (flips(spec.flip, true) && random.uniform() < 0.5) {
    map = compose(map, about_centre(-1, 0, 0, 1, height, width));
  }
  if (flips(spec.flip, false) && random.uniform() < 0.5) {
    map = compose(map, about_centre(1, 0, 0, -1, height, width));
  }
  if (spec.rotation > 0) {
    const double angle = random.uniform(-spec.rotation, spec.rotation) * 2 * std::numbers::pi;
    const double c = std::cos(angle), s = std::sin(angle);
    map = compose(map, about_centre(c, -s, s, c, height, width));
  }
  if (spec.zoom_height > 0 || spec.zoom_width > 0) {
    const double zy = 1 + random.uniform(-spec.zoom_height, spec.zoom_height);
    const double zx =
        spec.zoom_width_given ? 1 + random.uniform(-spec.zoom_width, spec.zoom_width) : zy;
    map = compose(map, about_centre(zx, 0, 0, zy, height, width));
  }
  if (spec.translation_height > 0 || spec.translation_width > 0) {
    const double dy = random.uniform(-spec.translation_height, spec.translation_height) * height;
    const double dx = random.uniform(-spec.translation_width, spec.translation_width) * width;
    map = compose(map, Affine{1, 0, -dx, 0, 1, -dy});
  }
  if (spec.crop_height < 1 || spec.crop_width < 1) {
    // A window of the crop's size, its corner uniform over the places it fits, read with
    // half-pixel centres as resize_bilinear reads.
    const double window_h = spec.crop_height * height, window_w = spec.crop_width * width;
    const double top = random.uniform() * (height - window_h);
    const double left = random.uniform() * (width - window_w);
    const double sy = window_h / height, sx = window_w / width;
    map = compose(map, Affine{sx, 0, left + 0.5 * sx - 0.5, 0, sy, top + 0.5 * sy - 0.5});
  }
  return map;
}

// A coordinate outside [0, size − 1] brought back inside: reflect about the outer pixel
// edges (−0.5 and size − 0.5) or clamp. Constant fill keeps it (the sample reads fill).
double fold(double position, int64_t size, AugmentationSpec::Fill fill) {
  const double last = double(size - 1);
  if (position >= 0 && position <= last) return position;
  if (fill == AugmentationSpec::Fill::constant) return position;
  if (fill == AugmentationSpec::Fill::reflect && size > 1) {
    const double period = 2.0 * double(size);
    double t = std::fmod(position + 0.5, period);
    if (t < 0) t += period;
    if (t >= double(size)) t = period - t;
    position = t - 0.5;
  }
  return std::clamp(position, 0.0, last);
}

struct Sampler {
  const float* image;
  int64_t height, width, channels;
  float fill_value;

  const float* pixel(int64_t y, int64_t x) const {
    if (y < 0 || y >= height || x < 0 || x >= width) return nullptr;
    return image + (y * width + x) * channels;
  }
  float at(const float* pixel, int64_t c) const { return pixel ? pixel[c] : fill_value; }

  // Bilinear at (y, x), the four neighbours outside the image reading fill_value.
  void sample(double y, double x, float* out) const {
    const double fy = std::floor(y), fx = std::floor(x);
    const float dy = float(y - fy), dx = float(x - fx);
    const int64_t top = int64_t(fy), left = int64_t(fx);
    if (top >= 0 && left >= 0 && top + 1 < height && left + 1 < width) {
      // Inside (most pixels): no neighbour needs checking.
      const float* a = image + (top * width + left) * channels;
      const float* c = a + width * channels;
      for (int64_t k = 0; k < channels; ++k) {
        const float upper = a[k] + (a[k + channels] - a[k]) * dx;
        const float lower = c[k] + (c[k + channels] - c[k]) * dx;
        out[k] = upper + (lower - upper) * dy;
      }
      return;
    }
    const float* a = pixel(top, left);
    const float* b = pixel(top, left + 1);
    const float* c = pixel(top + 1, left);
    const float* d = pixel(top + 1, left + 1);
    // A zero weight must not read a missing neighbour: the last row or column is exact.
    for (int64_t k = 0; k < channels; ++k) {
      const float upper = at(a, k) + (dx > 0 ? (at(b, k) - at(a, k)) * dx : 0.f);
      const float lower = at(c, k) + (dx > 0 ? (at(d, k) - at(c, k)) * dx : 0.f);
      out[k] = upper + (dy > 0 ? (lower - upper) * dy : 0.f);
    }
  }
};

bool is_identity(const Affine& map) {
  return map.xx == 1 && map.xy == 0 && map.x0 == 0 && map.yx == 0 && map.yy == 1 && map.y0 == 0;
}

}  // namespace

bool is_identity(const AugmentationSpec& spec) {
  return spec.flip == AugmentationSpec::Flip::none && spec.rotation == 0 && spec.zoom_height == 0 &&
         spec.zoom_width == 0 && spec.translation_height == 0 && spec.translation_width == 0 &&
         spec.crop_height == 1 && spec.crop_width == 1;
}

void augment_image(const AugmentationSpec& spec, uint64_t seed, float* sample, int64_t height,
                   int64_t width, int64_t channels) {
  Random random(seed);
  const Affine map = random_transform(spec, random, double(height), double(width));
  if (is_identity(map)) return;
  thread_local std::vector<float> original;
  original.assign(sample, sample + height * width * channels);
  const Sampler sampler{original.data(), height, width, channels, spec.fill_value};
  for (int64_t y = 0; y < height; ++y) {
    for (int64_t x = 0; x < width; ++x) {
      const double in_x = map.xx * double(x) + map.xy * double(y) + map.x0;
      const double in_y = map.yx * double(x) + map.yy * double(y) + map.y0;
      sampler.sample(fold(in_y, height, spec.fill), fold(in_x, width, spec.fill),
                     sample + (y * width + x) * channels);
    }
  }
}

}  // namespace loom
