#pragma once
// Shared by the example programs: where results go, CSV files, a progress
// line, and plots through gnuplot (when it is installed).
#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/io/atomic_file.h"

namespace examples {

// Creates dir (and parents); returns it.
inline std::string ensure_dir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) nl::fail("cannot create {}: {}", dir, ec.message());
  return dir;
}

// Writes text to path atomically (a temporary file renamed into place), so a
// crash never leaves a half-written result behind.
inline void write_text_file(const std::string& path, const std::string& text) {
  nl::io::write_file_atomically(path, [&](std::FILE* f) {
    if (std::fwrite(text.data(), 1, text.size(), f) != text.size()) nl::fail("cannot write {}", path);
  });
}

// Writes rows (already formatted) under a header line.
inline void write_csv(const std::string& path, const std::string& header, const std::vector<std::string>& rows) {
  std::string text = header + '\n';
  for (const std::string& row : rows) text += row + '\n';
  write_text_file(path, text);
}

// Runs a gnuplot script; returns false (and says so) when gnuplot is missing or fails.
inline bool run_gnuplot(const std::string& script_path, const std::string& script) {
  {
    std::ofstream out(script_path);
    out << script;
  }
  if (std::system("command -v gnuplot > /dev/null 2>&1") != 0) {
    fmt::print(stderr, "gnuplot not found; the data and the plot script are written: render with `gnuplot {}`\n",
               script_path);
    return false;
  }
  if (std::system(("gnuplot " + script_path).c_str()) != 0) {
    fmt::print(stderr, "gnuplot failed on {}\n", script_path);
    return false;
  }
  return true;
}

// "[label] step 120/2000  loss 2.1234  35.2 steps/s  ETA 53s" on one updating stderr line.
class Progress {
 public:
  Progress(std::string label, int64_t total) : label_(std::move(label)), total_(total), start_(clock::now()) {}
  void update(int64_t step, double loss) const {
    double seconds = elapsed(), rate = double(step) / std::max(seconds, 1e-9);
    fmt::print(stderr, "\r[{}] step {:>5}/{}  loss {:.4f}  {:.1f} steps/s  ETA {:.0f}s   ", label_, step, total_, loss,
               rate, double(total_ - step) / std::max(rate, 1e-9));
  }
  void finish() const { fmt::print(stderr, "\n"); }
  double elapsed() const { return std::chrono::duration<double>(clock::now() - start_).count(); }

 private:
  using clock = std::chrono::steady_clock;
  std::string label_;
  int64_t total_;
  clock::time_point start_;
};

}  // namespace examples
