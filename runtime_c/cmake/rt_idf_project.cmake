# Included by the generated ESP-IDF project's CMakeLists.txt (build_tools/render/templates/
# esp-idf/project-CMakeLists.txt.j2) after ESP-IDF's project.cmake and before project().
# ESP-IDF processes every component's CMakeLists in the project's scope, so the build options
# set here reach the managed upstream components (e.g. WAMR's WAMR_BUILD_*), which compile their
# own sources: the same options.cmake the runtime's own build of that upstream reads.
#
# Inputs: RT_ENGINE, RT_NN (folder names, as for rt_components.cmake), and what those folders'
# options.cmake read (e.g. RT_WAMR_INTERP).
get_filename_component(_rt_idf_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
foreach(_rt_dir "engines/${RT_ENGINE}" "nn/${RT_NN}")
  if(EXISTS "${_rt_idf_root}/${_rt_dir}/options.cmake")
    include("${_rt_idf_root}/${_rt_dir}/options.cmake")
  endif()
endforeach()
