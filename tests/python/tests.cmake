# The Python client (python/segq) under pytest, against real segqd and
# segq-worker processes of this build; its tiny real train and generate need
# segq-run, so it runs with the release build's torch tests. Debian's
# interpreter: it is the one deploy/deps.sh gives pyzmq, msgpack and pytest.
if(TARGET segqd AND TARGET segq-worker AND TARGET segq AND TARGET segq-testkind
   AND TARGET segq-run)
  add_test(NAME test_python_client
    COMMAND /usr/bin/python3 -m pytest -q -p no:cacheprovider
            ${PROJECT_SOURCE_DIR}/python/tests)
  set_tests_properties(test_python_client PROPERTIES TIMEOUT 600 LABELS torch
    ENVIRONMENT "SEGQ_BUILD_DIR=${PROJECT_BINARY_DIR};PYTHONPATH=${PROJECT_SOURCE_DIR}/python;PYTHONDONTWRITEBYTECODE=1")
endif()
