#pragma once
// Plots through gnuplot, when it is installed: a script is written next to
// the data and rendered to PNG; without gnuplot the script stays, and the
// user is told how to render it. StatsRecorder and the example programs build
// their scripts with these.
#include <string>
#include <utility>
#include <vector>

namespace nl::train::gnuplot {

// text as a gnuplot single-quoted string ('' stands for ').
std::string quote(const std::string& text);

// Writes script to script_path (atomically) and runs gnuplot on it. Returns
// false, saying why on stderr, when gnuplot is missing or fails; an empty
// script (nothing to plot) writes nothing and returns false.
bool render(const std::string& script_path, const std::string& script);

// A script drawing, from a CSV whose first column is a run label, one line per
// (label, column): solid for `columns`, dashed for `dashed`, x from column 2.
// Each column comes with a suffix for the key ("" for none). No labels: an
// empty script.
std::string lines_by_label(const std::string& csv, const std::string& png, const std::vector<std::string>& labels,
                           const std::string& xlabel, const std::string& ylabel,
                           const std::vector<std::pair<int, std::string>>& columns,
                           const std::vector<std::pair<int, std::string>>& dashed = {});

}  // namespace nl::train::gnuplot
