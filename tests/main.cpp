// The Catch2 runner for the whole suite (one TEST_CASE file per unit elsewhere).
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
