#include "train/gnuplot.h"

#include <fmt/format.h>

#include <cstdlib>

#include "core/io/atomic_file.h"

namespace nl::train::gnuplot {

std::string quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

bool render(const std::string& script_path, const std::string& script) {
  if (script.empty()) return false;
  io::write_file_atomically(script_path, script);
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

std::string lines_by_label(const std::string& csv, const std::string& png, const std::vector<std::string>& labels,
                           const std::string& xlabel, const std::string& ylabel,
                           const std::vector<std::pair<int, std::string>>& columns,
                           const std::vector<std::pair<int, std::string>>& dashed) {
  if (labels.empty()) return "";
  std::string script = fmt::format(
      "set terminal pngcairo size 900,540\nset output '{}'\nset datafile separator ','\n"
      "set xlabel '{}'\nset ylabel '{}'\nset key top right\nset grid\nplot ",
      png, xlabel, ylabel);
  bool first = true;
  for (size_t i = 0; i < labels.size(); ++i) {
    auto add = [&](const std::pair<int, std::string>& column, int dash) {
      script += fmt::format("{}'< grep \"^{},\" {}' using 2:{} with lines lw 2 lc {} dt {} title '{}{}'",
                            first ? "" : ", ", labels[i], csv, column.first, i + 1, dash, labels[i],
                            column.second.empty() ? "" : " (" + column.second + ")");
      first = false;
    };
    for (auto& c : columns) add(c, 1);
    for (auto& c : dashed) add(c, 2);
  }
  return script + "\n";
}

}  // namespace nl::train::gnuplot
