#pragma once
// A character-level text corpus: files read (size-checked), a vocabulary of
// the bytes that occur, the text encoded as int64 ids, a train/validation
// split, and random windows for language-model batches.
//
//   auto corpus = nl::data::TextCorpus::from_files({"/usr/share/games/fortunes/fortunes"});
//   auto [x, y] = corpus.batch(corpus.train(), /*batch=*/32, /*length=*/64);  // y is x shifted by one
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace nl::data {

class TextCorpus {
 public:
  // The text itself; validation_fraction of the end is held out.
  explicit TextCorpus(std::string text, double validation_fraction = 0.1);
  // Concatenates files (each at most max_bytes_per_file; a file over the limit is an error).
  static TextCorpus from_files(const std::vector<std::string>& paths, double validation_fraction = 0.1,
                               uint64_t max_bytes_per_file = uint64_t(1) << 30);

  int64_t vocab_size() const { return int64_t(chars_.size()); }
  const std::string& text() const { return text_; }
  std::vector<int64_t> encode(const std::string& s) const;  // unknown characters are an error
  std::string decode(const std::vector<int64_t>& ids) const;

  // The encoded splits, 1-D int64.
  const Tensor& train() const { return train_; }
  const Tensor& validation() const { return validation_; }

  // `batch` windows of length+1 consecutive ids from split at random offsets
  // (global generator): inputs (batch, length) and targets shifted by one.
  std::pair<Tensor, Tensor> batch(const Tensor& split, int64_t batch, int64_t length) const;

 private:
  std::string text_;
  std::vector<char> chars_;        // id -> byte
  std::vector<int64_t> id_of_;     // byte -> id, −1 when absent
  Tensor train_, validation_;
};

}  // namespace nl::data
