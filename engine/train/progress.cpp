#include "engine/train/progress.hpp"

#include <unistd.h>

#include <algorithm>

namespace loom {

std::map<std::string, double> named_values(const EpochRecord& record,
                                           std::span<const std::string> metric_names) {
  std::map<std::string, double> values = {{"loss", record.loss}};
  for (size_t i = 0; i < metric_names.size(); ++i) values[metric_names[i]] = record.metrics[i];
  if (record.has_validation) {
    values["val_loss"] = record.val_loss;
    for (size_t i = 0; i < metric_names.size(); ++i) {
      values["val_" + metric_names[i]] = record.val_metrics[i];
    }
  }
  if (record.has_test) {
    values["test_loss"] = record.test_loss;
    for (size_t i = 0; i < metric_names.size(); ++i) {
      values["test_" + metric_names[i]] = record.test_metrics[i];
    }
  }
  return values;
}

namespace {

using Clock = std::chrono::steady_clock;

void print_values(std::FILE* out, const char* prefix, double loss,
                  std::span<const std::string> names, std::span<const double> values) {
  std::fprintf(out, " - %sloss: %.4f", prefix, loss);
  for (size_t i = 0; i < names.size(); ++i) {
    std::fprintf(out, " - %s%s: %.4f", prefix, names[i].c_str(), values[i]);
  }
}

// " - 3.1s - 19000 samples/s - loss: ... - test_loss: ...", ending the line (and, on a
// terminal, clearing the rest of it).
void print_epoch(std::FILE* out, const EpochRecord& r, std::span<const std::string> names) {
  std::fprintf(out, " - %.1fs - %.0f samples/s", r.seconds, r.samples_per_second);
  print_values(out, "", r.loss, names, r.metrics);
  if (r.has_validation) print_values(out, "val_", r.val_loss, names, r.val_metrics);
  if (r.has_test) print_values(out, "test_", r.test_loss, names, r.test_metrics);
  std::fputs(isatty(fileno(out)) ? "\x1b[K\n" : "\n", out);
  std::fflush(out);
}

class TerminalProgress final : public ProgressReporter {
 public:
  explicit TerminalProgress(std::FILE* out) : out_(out) {}

  void epoch_begin(int64_t epoch, int64_t epochs, int64_t steps,
                   std::span<const std::string> metric_names) override {
    steps_ = steps;
    names_ = metric_names;
    started_ = last_draw_ = Clock::now();
    std::fprintf(out_, "Epoch %lld/%lld\n", static_cast<long long>(epoch),
                 static_cast<long long>(epochs));
  }

  // Redrawn at most every 100 ms; the last step is drawn by epoch_end with the final figures.
  void step_end(int64_t step, double loss, std::span<const double> metrics) override {
    const auto now = Clock::now();
    if (step == steps_ || now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const double elapsed = std::chrono::duration<double>(now - started_).count();
    draw_bar(step);
    std::fprintf(out_, " ETA %.0fs", elapsed / double(step) * double(steps_ - step));
    print_values(out_, "", loss, names_, metrics);
    std::fputs("\x1b[K", out_);
    std::fflush(out_);
  }

  void epoch_end(const EpochRecord& record) override {
    draw_bar(steps_);
    print_epoch(out_, record, names_);
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
  std::span<const std::string> names_;
  Clock::time_point started_, last_draw_;
};

class LineProgress final : public ProgressReporter {
 public:
  explicit LineProgress(std::FILE* out) : out_(out) {}
  void epoch_begin(int64_t epoch, int64_t epochs, int64_t,
                   std::span<const std::string> metric_names) override {
    epoch_ = epoch;
    epochs_ = epochs;
    names_ = metric_names;
  }
  void step_end(int64_t, double, std::span<const double>) override {}
  void epoch_end(const EpochRecord& record) override {
    std::fprintf(out_, "Epoch %lld/%lld", static_cast<long long>(epoch_),
                 static_cast<long long>(epochs_));
    print_epoch(out_, record, names_);
  }

 private:
  std::FILE* out_;
  int64_t epoch_ = 0, epochs_ = 0;
  std::span<const std::string> names_;
};

class SilentProgress final : public ProgressReporter {
 public:
  void epoch_begin(int64_t, int64_t, int64_t, std::span<const std::string>) override {}
  void step_end(int64_t, double, std::span<const double>) override {}
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
