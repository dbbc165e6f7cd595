# ctest -R wgmma_not_serialized: ptxas must not serialize the wgmma prefill's wgmmas. It says
# so only with -v ("Potential Performance Loss: wgmma.mma_async instructions are serialized",
# C7514, C7515, C7520), and the kernel then silently waits after every wgmma: that cost ~15%
# (results/h200/README.md). Compiles SOURCE with OPTIONS, DEFINES and INCLUDES (each
# '|'-separated, as the target has them) and fails on any such line.
string(REPLACE "|" ";" flags "${OPTIONS}")
string(REPLACE "|" ";" defines "${DEFINES}")
string(REPLACE "|" ";" includes "${INCLUDES}")
list(TRANSFORM defines PREPEND "-D")
list(TRANSFORM includes PREPEND "-I")
list(APPEND flags ${defines} ${includes})
execute_process(COMMAND ${NVCC} ${flags} -Xptxas -v -c ${SOURCE} -o ${OUTPUT}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "compiling ${SOURCE} failed:\n${err}")
endif()
string(REGEX MATCHALL "[^\n]*Potential Performance Loss[^\n]*" losses "${out}${err}")
list(LENGTH losses count)
if(count GREATER 0)
  list(GET losses 0 first)
  message(FATAL_ERROR "ptxas serializes wgmmas in ${count} kernel(s) of ${SOURCE}, e.g.:\n${first}")
endif()
string(REGEX MATCHALL "Compiling entry function" kernels "${out}${err}")
list(LENGTH kernels compiled)
if(compiled EQUAL 0)
  message(FATAL_ERROR "ptxas compiled no kernel of ${SOURCE}: the check would prove nothing")
endif()
message(STATUS "${compiled} kernels, no wgmma serialized")
