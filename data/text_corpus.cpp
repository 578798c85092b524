#include "data/text_corpus.h"

#include <algorithm>

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

TextCorpus TextCorpus::from_files(const std::vector<std::string>& paths, double validation_fraction,
                                  uint64_t max_bytes_per_file) {
  if (paths.empty()) fail("TextCorpus::from_files: no files given");
  std::string text;
  for (const std::string& path : paths) {
    io::InputFile file(path, "TextCorpus");
    if (file.size() > max_bytes_per_file)
      file.fail_with(fmt::format("file of {} bytes exceeds the limit of {}", file.size(), max_bytes_per_file));
    size_t at = text.size();
    text.resize(at + file.size());
    file.read(0, file.size(), text.data() + at, "text");
  }
  return TextCorpus(std::move(text), validation_fraction);
}

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
