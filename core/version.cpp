#include "core/version.h"

namespace nl {

// NORMLAB_VERSION comes from CMake (PROJECT_VERSION), compiled into this file only.
const char* version() { return NORMLAB_VERSION; }

}  // namespace nl
