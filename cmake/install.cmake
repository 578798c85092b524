# The installable package (included by the top-level CMakeLists.txt when
# NORMLAB_INSTALL is ON). `cmake --install build --prefix P` gives
#
#   P/include/normlab/            normlab.h, core/ (with kernels/, ops/, io/), layers/,
#                                 optim/, data/, models/, dist/, train/: every header,
#                                 at its path in the source tree
#   P/lib/libnormlab_<folder>.a   the seven libraries (normlab_core ... normlab_dist)
#   P/lib/cmake/normlab/          normlabConfig.cmake, normlabConfigVersion.cmake,
#                                 normlabTargets.cmake (normlab::normlab, normlab::core, ...)
#   P/lib/pkgconfig/normlab.pc
#
# The version in all of them is PROJECT_VERSION (the project() line), the
# one nl::version() returns. tests/package/ builds a program against it three
# ways: add_subdirectory, find_package and pkg-config.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(NORMLAB_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/normlab)
set(NORMLAB_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/normlab)

# Headers: #include "normlab.h" and #include "core/tensor.h" from one directory.
install(FILES ${PROJECT_SOURCE_DIR}/normlab.h DESTINATION ${NORMLAB_INSTALL_INCLUDEDIR})
foreach(folder ${NORMLAB_FOLDERS})
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${folder}/ DESTINATION ${NORMLAB_INSTALL_INCLUDEDIR}/${folder}
          FILES_MATCHING PATTERN "*.h")
endforeach()

# Libraries and their CMake targets, normlab::<folder> and normlab::normlab.
list(TRANSFORM NORMLAB_FOLDERS PREPEND normlab_ OUTPUT_VARIABLE NORMLAB_LIBRARY_TARGETS)
install(TARGETS ${NORMLAB_LIBRARY_TARGETS} normlab EXPORT normlabTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${NORMLAB_INSTALL_INCLUDEDIR})
install(EXPORT normlabTargets NAMESPACE normlab:: DESTINATION ${NORMLAB_INSTALL_CMAKEDIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/normlabConfig.cmake.in
                              ${PROJECT_BINARY_DIR}/normlabConfig.cmake
                              INSTALL_DESTINATION ${NORMLAB_INSTALL_CMAKEDIR})
# find_package(normlab 0.2) accepts any 0.x.y from 0.2 on (same major version).
write_basic_package_version_file(${PROJECT_BINARY_DIR}/normlabConfigVersion.cmake
                                 VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/normlabConfig.cmake ${PROJECT_BINARY_DIR}/normlabConfigVersion.cmake
        DESTINATION ${NORMLAB_INSTALL_CMAKEDIR})

# normlab.pc. Its paths are relative to the file itself (${pcfiledir}), so
# the prefix given to `cmake --install --prefix` (or a moved prefix) works.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(NORMLAB_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(NORMLAB_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}/normlab")
  set(NORMLAB_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
else()
  file(RELATIVE_PATH NORMLAB_PC_UP "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")  # ../..
  string(REGEX REPLACE "/$" "" NORMLAB_PC_UP "${NORMLAB_PC_UP}")
  set(NORMLAB_PC_PREFIX "\${pcfiledir}/${NORMLAB_PC_UP}")
  set(NORMLAB_PC_INCLUDEDIR "\${prefix}/${NORMLAB_INSTALL_INCLUDEDIR}")
  set(NORMLAB_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
# The archives, each before the ones it needs (the folder layering of CMakeLists.txt).
set(NORMLAB_PC_LINK_ORDER train dist models layers optim data core)
set(NORMLAB_PC_SORTED_ORDER ${NORMLAB_PC_LINK_ORDER})
set(NORMLAB_PC_SORTED_FOLDERS ${NORMLAB_FOLDERS})
list(SORT NORMLAB_PC_SORTED_ORDER)
list(SORT NORMLAB_PC_SORTED_FOLDERS)
if(NOT NORMLAB_PC_SORTED_ORDER STREQUAL NORMLAB_PC_SORTED_FOLDERS)
  message(FATAL_ERROR "cmake/install.cmake: the libraries are now ${NORMLAB_FOLDERS}: update NORMLAB_PC_LINK_ORDER")
endif()
list(TRANSFORM NORMLAB_PC_LINK_ORDER PREPEND -lnormlab_ OUTPUT_VARIABLE NORMLAB_PC_ARCHIVES)
list(JOIN NORMLAB_PC_ARCHIVES " " NORMLAB_PC_ARCHIVES)
# What the archives need when linking: the same OpenBLAS, OpenMP and MPI
# libraries CMake found for the build.
set(NORMLAB_PC_LINK_DEPS)
foreach(NORMLAB_PC_LIBRARY ${OpenBLAS_LIBRARIES})
  cmake_path(SET NORMLAB_PC_LIBRARY NORMALIZE "${NORMLAB_PC_LIBRARY}")
  list(APPEND NORMLAB_PC_LINK_DEPS "${NORMLAB_PC_LIBRARY}")
endforeach()
list(APPEND NORMLAB_PC_LINK_DEPS ${OpenMP_CXX_FLAGS})
set(NORMLAB_PC_OPENMP ${OpenMP_CXX_FLAGS})
set(NORMLAB_PC_MPI_NOTE "")
if(NORMLAB_MPI)
  separate_arguments(NORMLAB_PC_MPI_LINK_FLAGS UNIX_COMMAND "${MPI_CXX_LINK_FLAGS}")
  list(APPEND NORMLAB_PC_LINK_DEPS ${NORMLAB_PC_MPI_LINK_FLAGS} ${MPI_CXX_LIBRARIES})
  set(NORMLAB_PC_MPI_NOTE ", MPI")
endif()
list(JOIN NORMLAB_PC_LINK_DEPS " " NORMLAB_PC_LINK_DEPS)
configure_file(${CMAKE_CURRENT_LIST_DIR}/normlab.pc.in ${PROJECT_BINARY_DIR}/normlab.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/normlab.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
