// TextCorpus (data/text_corpus.h): fortune separators stripped, directories
// read in sorted order without fortune's index files, size limits, and the
// vocabulary, split and windows.
#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/data/data_test_helpers.h"

using Catch::Contains;
using nl_test::error_of;
using normlab_test::TempDir;
using normlab_test::write_bytes;

TEST_CASE("strip_fortune_separators: lines that are exactly % become empty", "[data][text]") {
  using nl::data::strip_fortune_separators;
  CHECK(strip_fortune_separators("one\n%\ntwo\nlines\n%\n") == "one\n\ntwo\nlines\n\n");
  CHECK(strip_fortune_separators("%\r\nwindows\r\n%") == "\nwindows\r\n\n");
  CHECK(strip_fortune_separators("50%\n%%\n %\n% \n") == "50%\n%%\n %\n% \n");  // not separators
  CHECK(strip_fortune_separators("") == "");
}

TEST_CASE("TextCorpus::from_path: a directory's text files, sorted, without .dat/.u8/hidden/binary files",
          "[data][text]") {
  TempDir dir;
  std::string root = dir.file("fortunes");
  std::filesystem::create_directories(root + "/subdir");
  write_bytes(root + "/b", "bee\n%\nbuzz\n%\n");
  write_bytes(root + "/a", "ant\n%\nhill");  // no final newline: one is added before the next file
  write_bytes(root + "/a.dat", std::string("\0\0\0\2index", 9));
  std::filesystem::create_symlink(root + "/a", root + "/a.u8");
  write_bytes(root + "/.hidden", "secret");
  write_bytes(root + "/image", std::string("PNG\0data", 8));
  write_bytes(root + "/subdir/c", "not read: not recursive");

  CHECK(nl::data::text_files_in(root) == std::vector<std::string>{root + "/a", root + "/b", root + "/image"});
  nl::data::TextCorpus corpus = nl::data::TextCorpus::from_path(root, {.validation_fraction = 0.25});
  CHECK(corpus.text() == "ant\n\nhill\nbee\n\nbuzz\n\n");
  CHECK(corpus.vocab_size() == 11);  // \n a b e h i l n t u z
  CHECK(corpus.train().numel() + corpus.validation().numel() == int64_t(corpus.text().size()));
  CHECK(corpus.validation().numel() == int64_t(corpus.text().size()) / 4);

  nl::data::TextCorpus kept = nl::data::TextCorpus::from_path(root + "/b", {.strip_fortune_separators = false});
  CHECK(kept.text() == "bee\n%\nbuzz\n%\n");  // a single file, separators kept on request
}

TEST_CASE("TextCorpus::from_path: limits and errors", "[data][text]") {
  TempDir dir;
  std::string root = dir.file("texts");
  std::filesystem::create_directories(root);
  CHECK_THAT(error_of([&] { nl::data::TextCorpus::from_path(root); }), Contains("holds no text files"));
  write_bytes(root + "/a", "0123456789");
  write_bytes(root + "/b", "abcdefghij");
  CHECK(nl::data::TextCorpus::from_path(root, {.max_total_bytes = 21}).text().size() == 21);
  CHECK_THAT(
      error_of([&] { nl::data::TextCorpus::from_path(root, {.max_total_bytes = 20}); }),
      Contains("TextCorpus: " + root + "/b: file of 10 bytes exceeds the 9 bytes left of the corpus limit of 20"));
  CHECK_THAT(error_of([&] { nl::data::TextCorpus::from_path(root + "/missing"); }), Contains("cannot open"));
  CHECK_THAT(error_of([&] { nl::data::TextCorpus::from_files({root + "/a"}, 0.1, 5); }),
             Contains("file of 10 bytes exceeds the limit of 5 bytes per file"));
}

TEST_CASE("TextCorpus: vocabulary, encode/decode and shifted windows", "[data][text]") {
  nl::data::TextCorpus corpus("abracadabra", 0.0);
  CHECK(corpus.vocab_size() == 5);
  CHECK(corpus.decode(corpus.encode("cab")) == "cab");
  CHECK_THAT(error_of([&] { corpus.encode("z"); }), Contains("is not in the vocabulary"));
  nl::manual_seed(0);
  auto [x, y] = corpus.batch(corpus.train(), 3, 4);
  CHECK(x.shape() == nl::Shape{3, 4});
  std::vector<int64_t> xs = x.to_vector<int64_t>(), ys = y.to_vector<int64_t>();
  std::string text = corpus.text();
  for (int b = 0; b < 3; ++b) {
    std::string window = corpus.decode(std::vector<int64_t>(xs.begin() + 4 * b, xs.begin() + 4 * b + 4));
    std::string next = corpus.decode(std::vector<int64_t>(ys.begin() + 4 * b, ys.begin() + 4 * b + 4));
    size_t at = text.find(window + next.back());
    CHECK(at != std::string::npos);  // a real window of the text, and y is it shifted by one
    CHECK(next == window.substr(1) + next.back());
  }
}

TEST_CASE("TextCorpus::default_fortunes: Debian's fortunes without separators", "[data][text]") {
  // scripts/install_deps.sh installs the fortunes package; without it this test says so and fails
  REQUIRE(std::filesystem::is_directory(nl::data::kFortunesDir));
  nl::data::TextCorpus corpus = nl::data::TextCorpus::default_fortunes();
  CHECK(corpus.text().size() > 1000000);
  CHECK(corpus.text().find("\n%\n") == std::string::npos);
  CHECK(corpus.vocab_size() > 60);
}
