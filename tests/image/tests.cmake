# Image decoding/encoding, conversions and dataset folders (no libtorch:
# these run under ASan+UBSan with leak detection).
segq_add_test(NAME test_image_decode SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_image_decode.c
              LIBS segq_image z TIMEOUT 300)
segq_add_test(NAME test_image_limits SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_image_limits.c
              LIBS segq_image TIMEOUT 300)
segq_add_test(NAME test_image_helpers SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_image_helpers.c
              LIBS segq_image TIMEOUT 300)
# Reads ../shared/data (SEGQ_DATA_DIR): fails if it is missing.
segq_add_test(NAME test_image_data SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_image_data.c
              LIBS segq_image TIMEOUT 600)
if(TARGET segq_contact_sheet)
  # contact sheet PNG of generate/stylize outputs (no torch: sanitized).
  segq_add_test(NAME test_contact_sheet SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_contact_sheet.c
                LIBS segq_contact_sheet TIMEOUT 60)
endif()
