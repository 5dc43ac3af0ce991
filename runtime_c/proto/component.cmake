# Device side of the protocol (docs/protocol.md): framing, codec, dispatcher, hashes.
set(RT_PROTO_SOURCES
  ${CMAKE_CURRENT_LIST_DIR}/proto_hash.c
  ${CMAKE_CURRENT_LIST_DIR}/proto_frame.c
  ${CMAKE_CURRENT_LIST_DIR}/proto_codec.c
  ${CMAKE_CURRENT_LIST_DIR}/proto_device.c)
set(RT_PROTO_INCLUDES ${CMAKE_CURRENT_LIST_DIR})
# The protocol's test double of the core (test device, fuzz harness, protocol-only firmware).
set(RT_PROTO_TEST_SOURCES ${CMAKE_CURRENT_LIST_DIR}/test/fake_core.c)
set(RT_PROTO_TEST_INCLUDES ${CMAKE_CURRENT_LIST_DIR}/test)
