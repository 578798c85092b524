// libFuzzer harness for the text corpus reader (data/text_corpus.h):
// TextCorpus::from_path on a file of arbitrary bytes either builds a corpus
// or throws nl::Error (a text of fewer than 2 bytes, for one); when it builds
// one, the vocabulary round-trips the text and a batch can be drawn.
#include <cstdint>
#include <cstdlib>

#include "data/text_corpus.h"
#include "tests/fuzz/fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const normlab_fuzz::InputFile file("text");
  const std::string& path = file.write(data, size);
  NORMLAB_FUZZ_EXPECT_LOAD_OR_ERROR({
    // The first byte picks the options, so both ways of reading are fuzzed.
    nl::data::TextCorpusOptions options;
    options.strip_fortune_separators = size > 0 && (data[0] & 1);
    options.validation_fraction = size > 0 && (data[0] & 2) ? 0.5 : 0.1;
    nl::data::TextCorpus corpus = nl::data::TextCorpus::from_path(path, options);
    if (corpus.decode(corpus.encode(corpus.text())) != corpus.text()) std::abort();
    if (corpus.train().numel() >= 2) (void)corpus.batch(corpus.train(), 2, 1);
  });
  return 0;
}
