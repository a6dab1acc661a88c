#pragma once

// A one-line progress bar on stderr, drawn only when stderr is a terminal
// (and not --quiet), so that logs and pipes stay clean.

#include <chrono>
#include <string>

namespace hare {

class ProgressBar {
 public:
  ProgressBar(std::string label, long long total);  // total: the value of "done" at 100%
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // A short status shown after the bar, e.g. "loss 0.41".
  void set_status(std::string status);
  void update(long long done);
  void finish();

  static bool enabled();

 private:
  void draw();

  std::string label_;
  std::string status_;
  long long total_;
  long long done_ = 0;
  bool active_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
};

}  // namespace hare
