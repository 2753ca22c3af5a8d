# Image decoding/encoding, conversions and dataset folders (no libtorch:
# these run under ASan+UBSan with leak detection).
segq_add_test(NAME test_image_decode SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_image_decode.c
              LIBS segq_image z TIMEOUT 300)
