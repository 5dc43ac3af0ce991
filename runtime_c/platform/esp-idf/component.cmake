# Platform esp-idf: the runtime on ESP-IDF (ESP32, ESP32-S3, ESP32-C3), built as the main
# component of the generated PlatformIO project (build/<target>/firmware/src/CMakeLists.txt).
# rt_esp_os.c is the only file with ESP-IDF calls; rt_esp_port.c and rt_esp_store.c are portable and are
# also compiled for rv32 by the tests.
set(RT_PLATFORM_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/rt_esp_os.c
  ${CMAKE_CURRENT_LIST_DIR}/rt_esp_port.c
  ${CMAKE_CURRENT_LIST_DIR}/rt_esp_store.c)
set(RT_PLATFORM_PORTABLE_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/rt_esp_port.c
  ${CMAKE_CURRENT_LIST_DIR}/rt_esp_store.c)
# ESP-IDF components rt_esp_os.c calls (the store's partition, the deadline timer, the console).
set(RT_PLATFORM_IDF_REQUIRES esp_partition esp_timer esp_driver_uart esp_driver_usb_serial_jtag)
set(RT_PLATFORM_INCLUDES ${CMAKE_CURRENT_LIST_DIR})
set(RT_PLATFORM_DEFINES "")
set(RT_PLATFORM_LIBS "")
set(RT_PLATFORM_LINK_OPTIONS "")
set(RT_PLATFORM_EXECUTABLE_SUFFIX .elf)
