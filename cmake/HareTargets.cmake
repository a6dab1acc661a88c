# Shared helpers for hare's targets: one warnings function, the sanitizer
# option, and the torch boundary.

function(hare_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align
    -Wunused -Woverloaded-virtual -Wdouble-promotion
    -Wformat=2 -Wimplicit-fallthrough)
  if(HARE_WERROR)
    target_compile_options(${target} PRIVATE -Werror)
  endif()
  if(HARE_SANITIZE)
    target_compile_options(${target} PRIVATE -fsanitize=${HARE_SANITIZE} -fno-omit-frame-pointer)
    target_link_options(${target} PRIVATE -fsanitize=${HARE_SANITIZE})
  endif()
endfunction()

# A torch-linked target: torch headers are SYSTEM (their warnings are not
# ours) and the flags torch requires are applied.
function(hare_use_torch target visibility)
  target_include_directories(${target} SYSTEM ${visibility} ${TORCH_INCLUDE_DIRS})
  target_link_libraries(${target} ${visibility} ${TORCH_LIBRARIES})
  target_compile_options(${target} ${visibility} ${TORCH_CXX_FLAGS})
endfunction()

# hare_module(<name> SOURCES ... DEPS ...): the static library hare_<name>,
# whose public headers are included as "<name>/<file>.h".
function(hare_module name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(hare_${name} STATIC ${ARG_SOURCES})
  target_include_directories(hare_${name} PUBLIC ${PROJECT_SOURCE_DIR}/lib)
  target_link_libraries(hare_${name} PUBLIC ${ARG_DEPS})
  hare_warnings(hare_${name})
endfunction()

# hare_tool(<name> DEPS ...): tools/<name>.cpp -> build/bin/<name>.
function(hare_tool name)
  cmake_parse_arguments(ARG "" "" "DEPS" ${ARGN})
  add_executable(${name} ${name}.cpp)
  target_link_libraries(${name} PRIVATE ${ARG_DEPS})
  hare_warnings(${name})
endfunction()
