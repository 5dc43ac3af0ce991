# Platform posix: the runtime as a native process, protocol over stdin/stdout.
set(RT_PLATFORM_SOURCES ${CMAKE_CURRENT_LIST_DIR}/main.c ${CMAKE_CURRENT_LIST_DIR}/rt_os_posix.c
    ${CMAKE_CURRENT_LIST_DIR}/rt_task_posix.c)
set(RT_PLATFORM_INCLUDES "")
set(RT_PLATFORM_DEFINES "")
set(RT_PLATFORM_LIBS m)
set(RT_PLATFORM_LINK_OPTIONS "")
set(RT_PLATFORM_EXECUTABLE_SUFFIX "")
