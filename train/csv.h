#pragma once
// CSV results: a header line and rows, written atomically (a crash never
// leaves half a file). Rows come formatted by the caller, who knows the
// precision each column wants:
//
//   std::vector<std::string> rows;
//   rows.push_back(fmt::format("{},{:.5f}", step, loss));
//   nl::train::write_csv("results/steps.csv", "step,loss", rows);
#include <string>
#include <vector>

namespace nl::train {

// A text field as CSV wants it: quoted (with "" for ") when it holds a comma,
// a quote or a newline, as is otherwise.
std::string csv_field(const std::string& text);

// The header line and the rows, each ended by a newline.
std::string csv_text(const std::string& header, const std::vector<std::string>& rows);

// csv_text(header, rows) into path, atomically.
void write_csv(const std::string& path, const std::string& header, const std::vector<std::string>& rows);

}  // namespace nl::train
