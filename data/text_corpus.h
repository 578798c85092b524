#pragma once
// A character-level text corpus: files read (size-checked), a vocabulary of
// the bytes that occur, the text encoded as int64 ids, a train/validation
// split, and random windows for language-model batches.
//
//   auto corpus = nl::data::TextCorpus::default_fortunes();   // Debian's fortunes, % lines stripped
//   auto corpus = nl::data::TextCorpus::from_path("book.txt"); // or any file or directory of text
//   auto [x, y] = corpus.batch(corpus.train(), /*batch=*/32, /*length=*/64);  // y is x shifted by one
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/tensor.h"

namespace nl::data {

// Where Debian's `fortunes` package installs its fortune files.
inline constexpr const char* kFortunesDir = "/usr/share/games/fortunes";

struct TextCorpusOptions {
  double validation_fraction = 0.1;
  // Fortune files separate their entries with lines holding only "%"; each
  // becomes an empty line, so the entries stay apart but no "%" is learned.
  bool strip_fortune_separators = true;
  // The most bytes read in all (files are untrusted; checked before reading).
  uint64_t max_total_bytes = uint64_t(1) << 30;
};

// text with every line that is exactly "%" (or "%\r") made empty.
std::string strip_fortune_separators(std::string_view text);

// The text files of a directory, as TextCorpus::from_path reads them: regular
// files (symlinks followed) not starting with "." and not named *.dat or *.u8
// (fortune's index files and its UTF-8 duplicate links), sorted by name so the
// corpus is the same on every machine. Not recursive.
std::vector<std::string> text_files_in(const std::string& dir);

class TextCorpus {
 public:
  // The text itself; validation_fraction of the end is held out.
  explicit TextCorpus(std::string text, double validation_fraction = 0.1);
  // Concatenates files (each at most max_bytes_per_file; a file over the limit is an error).
  static TextCorpus from_files(const std::vector<std::string>& paths, double validation_fraction = 0.1,
                               uint64_t max_bytes_per_file = uint64_t(1) << 30);
  // A file, or a directory (its text_files_in(), joined with a newline between
  // files where one is missing). In a directory, files holding a NUL byte are
  // binary, not text, and are skipped; an error if no text is left.
  static TextCorpus from_path(const std::string& path, const TextCorpusOptions& options = {});
  // from_path(kFortunesDir): every fortune file of Debian's fortunes package,
  // separators stripped (about 2.7 MB of text).
  static TextCorpus default_fortunes(const TextCorpusOptions& options = {});

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
  std::vector<char> chars_;     // id -> byte
  std::vector<int64_t> id_of_;  // byte -> id, −1 when absent
  Tensor train_, validation_;
};

}  // namespace nl::data
