#include "common/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "common/diag.h"

namespace hare {

bool ProgressBar::enabled() { return !diag::quiet() && isatty(STDERR_FILENO) == 1; }

ProgressBar::ProgressBar(std::string label, long long total)
    : label_(std::move(label)),
      total_(total > 0 ? total : 1),
      active_(enabled()),
      start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::set_status(std::string status) { status_ = std::move(status); }

void ProgressBar::update(long long done) {
  done_ = done;
  if (!active_) return;
  const auto now = std::chrono::steady_clock::now();
  // Redrawing more than ~20 times a second only costs time.
  if (done_ < total_ && now - last_draw_ < std::chrono::milliseconds(50)) return;
  last_draw_ = now;
  draw();
}

void ProgressBar::draw() {
  constexpr int kWidth = 30;
  const double fraction = static_cast<double>(done_) / static_cast<double>(total_);
  const int filled = static_cast<int>(fraction * kWidth);
  const double elapsed_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  std::fputs(fmt::format("\r\033[K{} [{}] {:3.0f}% {:.0f}s {}", label_, bar, fraction * 100.0,
                         elapsed_s, status_)
                 .c_str(),
             stderr);
  std::fflush(stderr);
}

void ProgressBar::finish() {
  if (!active_ || finished_) return;
  finished_ = true;
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
}

}  // namespace hare
