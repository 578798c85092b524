// JSON results: one line or indented, bytes that are not UTF-8 replaced, the file.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "normlab.h"

TEST_CASE("json_text: one line, indented, and invalid UTF-8 replaced instead of throwing", "[train][json]") {
  nlohmann::json j = {{"loss", 0.5}, {"steps", 3}};
  CHECK(nl::train::json_text(j) == "{\"loss\":0.5,\"steps\":3}");
  CHECK(nl::train::json_text(j, 2) == "{\n  \"loss\": 0.5,\n  \"steps\": 3\n}");
  nlohmann::json sample = {{"sample", std::string("ab\xff")}};  // a generated sample may hold such bytes
  CHECK(nl::train::json_text(sample) == "{\"sample\":\"ab\xEF\xBF\xBD\"}");
}

TEST_CASE("write_json writes the indented text and a newline", "[train][json]") {
  std::string path = (std::filesystem::temp_directory_path() / "normlab_test_results.json").string();
  nl::train::write_json(path, {{"ok", true}});
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  CHECK(text.str() == "{\n  \"ok\": true\n}\n");
  CHECK(nlohmann::json::parse(text.str())["ok"] == true);
  std::filesystem::remove(path);
}
