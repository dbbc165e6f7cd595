# attnbench_add_plugin(<name> SOURCES <files...> [CUDA_SOURCES <cu files...>] [NO_INSTALL])
#
# Builds one attnbench plugin the way the host expects it: a MODULE library named
# <name>.so, everything hidden except the entry symbol attnbench_plugin_negotiate (hidden
# visibility plus a linker version script), CUDA sources compiled (and ATTNB_WITH_CUDA
# defined) only when the calling project enabled the CUDA language, with the CUDA runtime
# linked statically so the .so carries no runtime dependency. `install` puts the plugin in
# ${CMAKE_INSTALL_PREFIX}/lib/attnbench/plugins, where an attnbench installed to the same
# prefix looks; NO_INSTALL leaves it out of the install.
#
# Used in the attnbench tree (sdk/CMakeLists.txt includes it; ATTNB_PLUGIN_OUTPUT_DIR, set
# only there, collects every plugin in one folder) and installed with the attnbench_sdk
# package (find_package(attnbench_sdk) includes it; the .so lands in the build folder).
include_guard(GLOBAL)
include(GNUInstallDirs)

function(attnbench_add_plugin name)
  cmake_parse_arguments(ARG "NO_INSTALL" "" "SOURCES;CUDA_SOURCES" ${ARGN})
  if(ARG_UNPARSED_ARGUMENTS OR NOT ARG_SOURCES)
    message(FATAL_ERROR "attnbench_add_plugin(${name} ...): expected SOURCES <files...> "
                        "[CUDA_SOURCES <cu files...>] [NO_INSTALL], got: ${ARGN}")
  endif()
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
    C_VISIBILITY_PRESET hidden
    CXX_VISIBILITY_PRESET hidden
    CUDA_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    POSITION_INDEPENDENT_CODE ON)
  target_link_options(${name} PRIVATE
    "LINKER:--version-script=${CMAKE_CURRENT_FUNCTION_LIST_DIR}/plugin_exports.map"
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
