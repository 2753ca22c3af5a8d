# safetensors reader/writer (no libtorch: runs under ASan+UBSan). Also runs
# tests/safetensors/check_safetensors.py on /usr/bin/python3 (+ python3-torch).
segq_add_test(NAME test_safetensors SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_safetensors.c
              LIBS segq_safetensors TIMEOUT 300)
