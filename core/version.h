#pragma once
// The library's version, "major.minor.patch". Set in one place, the
// project() line of the top-level CMakeLists.txt; every program's --version,
// the installed normlabConfigVersion.cmake and normlab.pc show the same.
namespace nl {

const char* version();

}  // namespace nl
