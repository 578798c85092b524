// Linked with every object file of one library (whole archive) and only the
// libraries that library declares: any call into a folder above it is an
// undefined reference, so the build stops there (tests/architecture/CMakeLists.txt).
int main() { return 0; }
