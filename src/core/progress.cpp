#include "bitsmith/core/progress.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>

namespace bitsmith {
namespace {
std::atomic<bool> g_enabled{true};
}

void Progress::set_enabled_globally(bool enabled) { g_enabled = enabled; }

Progress::Progress(std::string label, int64_t total, bool enabled)
    : label_(std::move(label)), total_(total), enabled_(enabled && g_enabled && total > 0),
      tty_(::isatty(STDERR_FILENO) != 0), start_(std::chrono::steady_clock::now()), last_draw_(start_) {}

Progress::~Progress() { finish(); }

void Progress::advance(int64_t n) {
  done_ += n;
  if (!enabled_ || finished_) return;
  const auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (now - last_draw_ > std::chrono::milliseconds(100) || done_ >= total_) {
      last_draw_ = now;
      draw(false);
    }
  } else {
    const int decile = static_cast<int>(done_ * 10 / total_);
    if (decile != last_decile_ && decile < 10) {
      last_decile_ = decile;
      draw(false);
    }
  }
}

void Progress::finish() {
  if (!enabled_ || finished_) return;
  finished_ = true;
  draw(true);
}

void Progress::draw(bool final_line) {
  const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double frac = total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  const double eta = frac > 0 ? elapsed * (1.0 - frac) / frac : 0.0;
  if (tty_) {
    constexpr int kWidth = 30;
    const int filled = static_cast<int>(frac * kWidth);
    char bar[kWidth + 1];
    for (int i = 0; i < kWidth; ++i) bar[i] = i < filled ? '#' : '.';
    bar[kWidth] = 0;
    std::fprintf(stderr, "\r%s [%s] %3d%% %lld/%lld %s %.1fs", label_.c_str(), bar, static_cast<int>(frac * 100),
                 static_cast<long long>(done_), static_cast<long long>(total_), final_line ? "done in" : "ETA",
                 final_line ? elapsed : eta);
    if (final_line) std::fputc('\n', stderr);
  } else {
    std::fprintf(stderr, "%s: %lld/%lld (%d%%) %.1fs elapsed\n", label_.c_str(), static_cast<long long>(done_),
                 static_cast<long long>(total_), static_cast<int>(frac * 100), elapsed);
  }
  std::fflush(stderr);
}

}  // namespace bitsmith
