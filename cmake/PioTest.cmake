# pio_add_test(NAME name SOURCES ... LIBS ... [LABELS ...])
# One Boost.Test executable registered with CTest. Label `unit` marks the suites that the
# sanitizer build runs too; the `unit_tests` target builds just those (and what they link).
if(NOT TARGET unit_tests)
  add_custom_target(unit_tests)
endif()
function(pio_add_test)
  cmake_parse_arguments(T "" "NAME" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} Boost::unit_test_framework)
  target_compile_definitions(${T_NAME} PRIVATE BOOST_TEST_DYN_LINK
    PIO_TEST_DATA_DIR="${PROJECT_SOURCE_DIR}/tests/data")
  set_target_properties(${T_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME})
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}")
  if("unit" IN_LIST T_LABELS)
    add_dependencies(unit_tests ${T_NAME})
  endif()
endfunction()
