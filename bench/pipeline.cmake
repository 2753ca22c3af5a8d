# `cmake --build BUILD --target bench-pipeline`: SinGAN-Seg figures on this
# machine (bench/pipeline_cpu.sh with the segq-run just built).
if(TARGET segq-run)
  add_custom_target(bench-pipeline
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/pipeline_cpu.sh $<TARGET_FILE:segq-run>
    DEPENDS segq-run
    USES_TERMINAL)
endif()
