#include "engine/train/progress.hpp"

#include <unistd.h>

#include <string>

namespace loom {

namespace {

using Clock = std::chrono::steady_clock;

// " - 3.1s - 19000 samples/s - loss: ...", ending the line (and clearing the rest of it).
void print_metrics(std::FILE* out, const EpochRecord& r) {
  std::fprintf(out, " - %.1fs - %.0f samples/s - loss: %.4f - accuracy: %.4f", r.seconds,
               r.samples_per_second, r.loss, r.accuracy);
  if (r.has_test) {
    std::fprintf(out, " - test_loss: %.4f - test_accuracy: %.4f", r.test_loss, r.test_accuracy);
  }
  std::fputs(isatty(fileno(out)) ? "\x1b[K\n" : "\n", out);
  std::fflush(out);
}

class TerminalProgress final : public ProgressReporter {
 public:
  explicit TerminalProgress(std::FILE* out) : out_(out) {}

  void epoch_begin(int64_t epoch, int64_t epochs, int64_t steps) override {
    steps_ = steps;
    started_ = last_draw_ = Clock::now();
    std::fprintf(out_, "Epoch %lld/%lld\n", static_cast<long long>(epoch),
                 static_cast<long long>(epochs));
  }

  // Redrawn at most every 100 ms; the last step is drawn by epoch_end with the final figures.
  void step_end(int64_t step, double loss, double accuracy) override {
    const auto now = Clock::now();
    if (step == steps_ || now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const double elapsed = std::chrono::duration<double>(now - started_).count();
    const double eta = elapsed / double(step) * double(steps_ - step);
    draw_bar(step);
    std::fprintf(out_, " ETA %.0fs - loss: %.4f - accuracy: %.4f\x1b[K", eta, loss, accuracy);
    std::fflush(out_);
  }

  void epoch_end(const EpochRecord& record) override {
    draw_bar(steps_);
    print_metrics(out_, record);
  }

 private:
  void draw_bar(int64_t step) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(kWidth * step / std::max<int64_t>(steps_, 1));
    char bar[kWidth + 1];
    for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '=' : (i == filled ? '>' : '.');
    bar[kWidth] = '\0';
    std::fprintf(out_, "\r%lld/%lld [%s]", static_cast<long long>(step),
                 static_cast<long long>(steps_), bar);
  }

  std::FILE* out_;
  int64_t steps_ = 0;
  Clock::time_point started_, last_draw_;
};

class LineProgress final : public ProgressReporter {
 public:
  explicit LineProgress(std::FILE* out) : out_(out) {}
  void epoch_begin(int64_t epoch, int64_t epochs, int64_t) override {
    epoch_ = epoch;
    epochs_ = epochs;
  }
  void step_end(int64_t, double, double) override {}
  void epoch_end(const EpochRecord& record) override {
    std::fprintf(out_, "Epoch %lld/%lld", static_cast<long long>(epoch_),
                 static_cast<long long>(epochs_));
    print_metrics(out_, record);
  }

 private:
  std::FILE* out_;
  int64_t epoch_ = 0, epochs_ = 0;
};

class SilentProgress final : public ProgressReporter {
 public:
  void epoch_begin(int64_t, int64_t, int64_t) override {}
  void step_end(int64_t, double, double) override {}
  void epoch_end(const EpochRecord&) override {}
};

}  // namespace

std::unique_ptr<ProgressReporter> make_progress_reporter(std::FILE* out) {
  if (isatty(fileno(out))) return std::make_unique<TerminalProgress>(out);
  return std::make_unique<LineProgress>(out);
}

std::unique_ptr<ProgressReporter> make_silent_reporter() {
  return std::make_unique<SilentProgress>();
}

}  // namespace loom
