#pragma once
// A small results table, printed two ways from the same cells: aligned plain
// text for the terminal, and a Markdown table for summary.md / the docs.
//
//   examples::Table table({"norm", "batch", "test acc"});
//   table.add_row({"layer", "128", "0.8412 ± 0.0021"});
//   fmt::print("{}", table.text());     // columns padded to their widest cell
//   out << table.markdown();           // | norm | batch | test acc | ...
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <string>
#include <vector>

#include "core/error.h"

namespace examples {

class Table {
 public:
  explicit Table(std::vector<std::string> header) : header_(std::move(header)) {}

  void add_row(std::vector<std::string> cells) {
    if (cells.size() != header_.size())
      nl::fail("Table: a row has {} cells, the header {}", cells.size(), header_.size());
    rows_.push_back(std::move(cells));
  }

  // First column left-aligned, the others (numbers) right-aligned.
  std::string text() const {
    std::vector<size_t> width = widths();
    std::string out;
    auto line = [&](const std::vector<std::string>& cells) {
      for (size_t c = 0; c < cells.size(); ++c) {
        size_t pad = width[c] - display_width(cells[c]);
        out += c == 0 ? cells[c] + std::string(pad, ' ') : "  " + std::string(pad, ' ') + cells[c];
      }
      out += '\n';
    };
    line(header_);
    for (const auto& row : rows_) line(row);
    return out;
  }

  std::string markdown() const {
    auto line = [](const std::vector<std::string>& cells) {
      return "| " + fmt::format("{}", fmt::join(cells, " | ")) + " |\n";
    };
    std::string out = line(header_) + "|";
    for (size_t c = 0; c < header_.size(); ++c) out += c == 0 ? "---|" : "---:|";
    out += '\n';
    for (const auto& row : rows_) out += line(row);
    return out;
  }

 private:
  // Characters, not bytes: "±" is two bytes of UTF-8 but one column.
  static size_t display_width(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s) n += (c & 0xC0) != 0x80;
    return n;
  }
  std::vector<size_t> widths() const {
    std::vector<size_t> width(header_.size(), 0);
    for (size_t c = 0; c < header_.size(); ++c) width[c] = display_width(header_[c]);
    for (const auto& row : rows_)
      for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], display_width(row[c]));
    return width;
  }

  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

}  // namespace examples
