# attnbench_add_plugin(<name> SOURCES <files...> [CUDA_SOURCES <cu files...>] [NO_INSTALL])
#
# Builds one attnbench plugin the way the host expects it: a MODULE library named
# <name>.so, everything hidden except the entry symbol attnbench_plugin_negotiate, CUDA
# sources compiled (and ATTNB_WITH_CUDA defined) only when the CUDA language is enabled,
# with the CUDA runtime linked statically so the .so carries no runtime dependency.
# Output goes to ATTNB_PLUGIN_OUTPUT_DIR when set; `install` puts it in
# ${CMAKE_INSTALL_LIBDIR}/attnbench/plugins.
include_guard(GLOBAL)
include(GNUInstallDirs)

set(_ATTNB_PLUGIN_CMAKE_DIR "${CMAKE_CURRENT_LIST_DIR}" CACHE INTERNAL "where plugin_exports.map is")

function(attnbench_add_plugin name)
  cmake_parse_arguments(ARG "NO_INSTALL" "" "SOURCES;CUDA_SOURCES" ${ARGN})
  set(sources ${ARG_SOURCES})
  get_property(languages GLOBAL PROPERTY ENABLED_LANGUAGES)
  if(ARG_CUDA_SOURCES AND "CUDA" IN_LIST languages)
    list(APPEND sources ${ARG_CUDA_SOURCES})
    set(with_cuda TRUE)
  endif()
  add_library(${name} MODULE ${sources})
  target_link_libraries(${name} PRIVATE attnbench::sdk)
  set_target_properties(${name} PROPERTIES
    PREFIX ""
    OUTPUT_NAME ${name}
    CXX_VISIBILITY_PRESET hidden
    CUDA_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON)
  target_link_options(${name} PRIVATE
    "LINKER:--version-script=${_ATTNB_PLUGIN_CMAKE_DIR}/plugin_exports.map"
    "LINKER:--no-undefined")
  if(with_cuda)
    find_package(CUDAToolkit REQUIRED)
    target_compile_definitions(${name} PRIVATE ATTNB_WITH_CUDA)
    target_link_libraries(${name} PRIVATE CUDA::cudart_static)
    set_target_properties(${name} PROPERTIES CUDA_RUNTIME_LIBRARY Static)
  endif()
  set_property(GLOBAL APPEND PROPERTY ATTNB_PLUGIN_TARGETS ${name})
  if(ATTNB_PLUGIN_OUTPUT_DIR)
    set_target_properties(${name} PROPERTIES LIBRARY_OUTPUT_DIRECTORY "${ATTNB_PLUGIN_OUTPUT_DIR}")
  endif()
  if(NOT ARG_NO_INSTALL)
    # A fixed folder under the prefix: where the harness looks (<prefix>/lib/attnbench/plugins).
    install(TARGETS ${name} LIBRARY DESTINATION lib/attnbench/plugins)
  endif()
endfunction()
