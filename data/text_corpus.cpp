#include "data/text_corpus.h"

#include <algorithm>
#include <filesystem>

#include "core/io/atomic_file.h"
#include "core/ops.h"

namespace nl::data {

TextCorpus::TextCorpus(std::string text, double validation_fraction) : text_(std::move(text)), id_of_(256, -1) {
  if (!(validation_fraction >= 0 && validation_fraction < 1))
    fail("TextCorpus: validation_fraction must be in [0, 1), got {}", validation_fraction);
  if (text_.size() < 2) fail("TextCorpus: the text has {} characters; at least 2 are needed", text_.size());
  for (unsigned char c : text_) id_of_[c] = 0;
  for (int c = 0; c < 256; ++c)
    if (id_of_[size_t(c)] == 0) {
      id_of_[size_t(c)] = int64_t(chars_.size());
      chars_.push_back(char(c));
    }
  std::vector<int64_t> ids(text_.size());
  for (size_t i = 0; i < text_.size(); ++i) ids[i] = id_of_[static_cast<unsigned char>(text_[i])];
  int64_t n = int64_t(ids.size()), n_val = int64_t(double(n) * validation_fraction);
  Tensor all = from_vector(ids);
  train_ = all.slice(0, 0, n - n_val).contiguous();
  validation_ = all.slice(0, n - n_val, n).contiguous();
}

namespace {
// The whole file, its size checked against the limit before anything is allocated.
std::string read_text_file(const std::string& path, uint64_t max_bytes, const std::string& limit) {
  io::InputFile file(path, "TextCorpus");
  if (file.size() > max_bytes) file.fail_with(fmt::format("file of {} bytes exceeds {}", file.size(), limit));
  std::string text(size_t(file.size()), '\0');
  file.read(0, file.size(), text.data(), "text");
  return text;
}

bool ends_with(const std::string& s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

std::string strip_fortune_separators(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    size_t next = end == std::string_view::npos ? text.size() : end + 1;
    std::string_view line = text.substr(start, (end == std::string_view::npos ? text.size() : end) - start);
    if (line == "%" || line == "%\r")
      out += '\n';  // the separator line, emptied
    else
      out.append(text.substr(start, next - start));
    start = next;
  }
  return out;
}

std::vector<std::string> text_files_in(const std::string& dir) {
  std::error_code ec;
  std::filesystem::directory_iterator it(dir, ec);
  if (ec) fail("TextCorpus: cannot list the directory {}: {}", dir, ec.message());
  std::vector<std::string> files;
  for (const auto& entry : it) {
    std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.' || ends_with(name, ".dat") || ends_with(name, ".u8")) continue;
    if (entry.is_regular_file(ec)) files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

TextCorpus TextCorpus::from_files(const std::vector<std::string>& paths, double validation_fraction,
                                  uint64_t max_bytes_per_file) {
  if (paths.empty()) fail("TextCorpus::from_files: no files given");
  std::string text;
  for (const std::string& path : paths)
    text += read_text_file(path, max_bytes_per_file, fmt::format("the limit of {} bytes per file", max_bytes_per_file));
  return TextCorpus(std::move(text), validation_fraction);
}

TextCorpus TextCorpus::from_path(const std::string& path, const TextCorpusOptions& options) {
  std::error_code ec;
  bool is_dir = std::filesystem::is_directory(path, ec);
  std::vector<std::string> files = is_dir ? text_files_in(path) : std::vector<std::string>{path};
  std::string text;
  for (const std::string& file : files) {
    bool needs_newline = !text.empty() && text.back() != '\n';  // files are joined on a line break
    uint64_t used = text.size() + needs_newline;
    uint64_t left = used >= options.max_total_bytes ? 0 : options.max_total_bytes - used;
    std::string content = read_text_file(
        file, left, fmt::format("the {} bytes left of the corpus limit of {}", left, options.max_total_bytes));
    if (is_dir && content.find('\0') != std::string::npos) continue;  // binary, not text
    if (needs_newline) text += '\n';
    // (stripping never makes a text longer, so the limit still holds)
    text += options.strip_fortune_separators ? strip_fortune_separators(content) : content;
  }
  if (text.empty()) fail("TextCorpus::from_path: {} holds no text{}", path, is_dir ? " files" : "");
  return TextCorpus(std::move(text), options.validation_fraction);
}

TextCorpus TextCorpus::default_fortunes(const TextCorpusOptions& options) { return from_path(kFortunesDir, options); }

std::vector<int64_t> TextCorpus::encode(const std::string& s) const {
  std::vector<int64_t> ids;
  for (unsigned char c : s) {
    if (id_of_[c] < 0) fail("TextCorpus::encode: character {} (byte {}) is not in the vocabulary", char(c), int(c));
    ids.push_back(id_of_[c]);
  }
  return ids;
}

std::string TextCorpus::decode(const std::vector<int64_t>& ids) const {
  std::string s;
  for (int64_t id : ids) {
    if (id < 0 || id >= vocab_size()) fail("TextCorpus::decode: id {} outside the vocabulary of {}", id, vocab_size());
    s += chars_[size_t(id)];
  }
  return s;
}

std::pair<Tensor, Tensor> TextCorpus::batch(const Tensor& split, int64_t batch, int64_t length) const {
  int64_t n = split.numel();
  if (batch <= 0 || length <= 0 || length + 1 > n)
    fail("TextCorpus::batch: need batch > 0 and 0 < length < {} (the split's size), got batch={} length={}", n, batch,
         length);
  // offsets uniform in [0, n − length − 1]
  std::vector<double> u = rand({batch}, f64).to_vector<double>();
  const int64_t* ids = split.data<int64_t>();
  std::vector<int64_t> x(size_t(batch * length)), y(size_t(batch * length));
  for (int64_t b = 0; b < batch; ++b) {
    int64_t start = std::min<int64_t>(n - length - 1, int64_t(u[size_t(b)] * double(n - length)));
    std::copy_n(ids + start, length, x.begin() + b * length);
    std::copy_n(ids + start + 1, length, y.begin() + b * length);
  }
  return {from_vector(x, {batch, length}), from_vector(y, {batch, length})};
}

}  // namespace nl::data
