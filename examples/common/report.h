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

#include <nlohmann/json.hpp>

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
// An empty script (nothing to plot) writes nothing and returns false.
inline bool run_gnuplot(const std::string& script_path, const std::string& script) {
  if (script.empty()) return false;
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

// A number from a results JSON for a table: fixed precision, or "diverged"
// when it is null (a non-finite value).
inline std::string fmt_number(const nlohmann::json& value, int precision) {
  if (value.is_null()) return "diverged";
  return fmt::format("{:.{}f}", value.get<double>(), precision);
}

// JSON text; bytes that are not UTF-8 (generated samples may hold some) are
// replaced by U+FFFD instead of throwing.
inline std::string json_text(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

// A gnuplot script drawing, from a CSV whose first column is a run label,
// one line per (label, column): solid for `columns`, dashed for `dashed`,
// x from column 2. Each column comes with a suffix for the key. No labels:
// an empty script.
inline std::string gnuplot_lines_by_label(const std::string& csv, const std::string& png,
                                          const std::vector<std::string>& labels, const std::string& xlabel,
                                          const std::string& ylabel, const std::vector<std::pair<int, std::string>>& columns,
                                          const std::vector<std::pair<int, std::string>>& dashed = {}) {
  if (labels.empty()) return "";
  std::string script = fmt::format(
      "set terminal pngcairo size 900,540\nset output '{}'\nset datafile separator ','\n"
      "set xlabel '{}'\nset ylabel '{}'\nset key top right\nset grid\nplot ",
      png, xlabel, ylabel);
  bool first = true;
  for (size_t i = 0; i < labels.size(); ++i) {
    auto add = [&](const std::pair<int, std::string>& column, int dash) {
      script += fmt::format("{}'< grep \"^{},\" {}' using 2:{} with lines lw 2 lc {} dt {} title '{}{}'", first ? "" : ", ",
                            labels[i], csv, column.first, i + 1, dash, labels[i],
                            column.second.empty() ? "" : " (" + column.second + ")");
      first = false;
    };
    for (auto& c : columns) add(c, 1);
    for (auto& c : dashed) add(c, 2);
  }
  return script + "\n";
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
