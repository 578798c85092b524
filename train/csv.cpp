#include "train/csv.h"

#include "core/io/atomic_file.h"

namespace nl::train {

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string out = "\"";
  for (char c : text) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string csv_text(const std::string& header, const std::vector<std::string>& rows) {
  std::string text = header + '\n';
  for (const std::string& row : rows) text += row + '\n';
  return text;
}

void write_csv(const std::string& path, const std::string& header, const std::vector<std::string>& rows) {
  io::write_file_atomically(path, csv_text(header, rows));
}

}  // namespace nl::train
