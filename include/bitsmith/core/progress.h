// Progress reporting on stderr: a bar with ETA when stderr is a terminal, otherwise a plain line
// every ~10 % (so CI logs stay short). Never writes to stdout. Disabled when quiet.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace bitsmith {

class Progress {
 public:
  Progress(std::string label, int64_t total, bool enabled = true);
  ~Progress();
  void advance(int64_t n = 1);
  void finish();

  // Global switch (the CLI's -q turns progress off).
  static void set_enabled_globally(bool enabled);

 private:
  void draw(bool final_line);
  std::string label_;
  int64_t total_ = 0, done_ = 0;
  bool enabled_ = true, tty_ = false, finished_ = false;
  int last_decile_ = -1;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace bitsmith
