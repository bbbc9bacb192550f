# Checks every #include of the engine, the ops and the tools against the layer rule: a file
# may include headers of its own layer and of the layers below it (LOOM_LAYER_<name> in the
# top-level CMakeLists.txt, written to LAYERS_FILE at configure time), nothing above.
# The link check catches calls into a layer above; this catches header-only uses too.
#   cmake -DSOURCE_DIR=<loom> -DLAYERS_FILE=<build>/loom_layers.cmake -P check_includes.cmake

cmake_minimum_required(VERSION 3.25)
include(${LAYERS_FILE})  # LOOM_LAYERS and LOOM_LAYER_<name>

# Every layer a layer may reach: its own list, and theirs, to the bottom.
foreach(layer IN LISTS LOOM_LAYERS)
  set(reach ${LOOM_LAYER_${layer}})
  set(frontier ${reach})
  while(frontier)
    set(next)
    foreach(below IN LISTS frontier)
      foreach(further IN LISTS LOOM_LAYER_${below})
        if(NOT further IN_LIST reach)
          list(APPEND reach ${further})
          list(APPEND next ${further})
        endif()
      endforeach()
    endforeach()
    set(frontier ${next})
  endwhile()
  set(REACH_${layer} ${layer} ${reach})
endforeach()
# The tools sit on top of every layer.
set(REACH_tools tools ${LOOM_LAYERS})

# engine/<layer>/x.cpp, ops/x.cpp and tools/... name their layer by their folder.
function(layer_of path out)
  if(path MATCHES "^engine/([a-z_]+)/")
    set(${out} ${CMAKE_MATCH_1} PARENT_SCOPE)
  elseif(path MATCHES "^(ops|tools)/")
    set(${out} ${CMAKE_MATCH_1} PARENT_SCOPE)
  else()
    set(${out} "" PARENT_SCOPE)
  endif()
endfunction()

file(GLOB_RECURSE files RELATIVE ${SOURCE_DIR}
  ${SOURCE_DIR}/engine/*.hpp ${SOURCE_DIR}/engine/*.cpp
  ${SOURCE_DIR}/ops/*.hpp ${SOURCE_DIR}/ops/*.cpp
  ${SOURCE_DIR}/tools/*.hpp ${SOURCE_DIR}/tools/*.cpp)
set(violations 0)
foreach(file IN LISTS files)
  layer_of(${file} layer)
  if(NOT DEFINED REACH_${layer})
    message(NOTICE "${file}: in no layer (add its folder to LOOM_LAYERS)")
    math(EXPR violations "${violations} + 1")
    continue()
  endif()
  file(STRINGS ${SOURCE_DIR}/${file} lines)
  set(number 0)
  foreach(line IN LISTS lines)
    math(EXPR number "${number} + 1")
    if(NOT line MATCHES "^#include \"((engine/[a-z_]+|ops|tools)/[^\"]+)\"")
      continue()
    endif()
    set(included ${CMAKE_MATCH_1})
    layer_of(${included} target)
    if(NOT target IN_LIST REACH_${layer})
      list(JOIN REACH_${layer} ", " allowed)
      message(NOTICE "${file}:${number}: the ${layer} layer includes ${included} "
                     "(the ${target} layer); it may use: ${allowed}")
      math(EXPR violations "${violations} + 1")
    endif()
  endforeach()
endforeach()
list(LENGTH files count)
if(violations GREATER 0)
  message(FATAL_ERROR "${violations} includes cross the layer rule")
endif()
message(STATUS "${count} files: every include follows the layer rule")
