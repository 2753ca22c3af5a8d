# SinGAN-Seg over the torch shim: library segq_pipeline and segq-run.
# Included from pipeline/CMakeLists.txt when SEGQ_WITH_TORCH.

add_library(segq_pipeline STATIC
  ${CMAKE_CURRENT_LIST_DIR}/progress.c
  ${CMAKE_CURRENT_LIST_DIR}/run_flags.c
  ${CMAKE_CURRENT_LIST_DIR}/singan_net.c
  ${CMAKE_CURRENT_LIST_DIR}/singan_model.c
  ${CMAKE_CURRENT_LIST_DIR}/singan_step.c
  ${CMAKE_CURRENT_LIST_DIR}/singan_draws.c
  ${CMAKE_CURRENT_LIST_DIR}/singan_io.c
  ${CMAKE_CURRENT_LIST_DIR}/singan_train.c
  ${CMAKE_CURRENT_LIST_DIR}/singan_generate.c
  ${CMAKE_CURRENT_LIST_DIR}/model_cache.c
  ${CMAKE_CURRENT_LIST_DIR}/serve.c
  ${CMAKE_CURRENT_LIST_DIR}/checkpoint.c
  ${CMAKE_CURRENT_LIST_DIR}/devices.c
  # stylize / evaluate (issue 4)
  ${CMAKE_CURRENT_LIST_DIR}/vgg19.c
  ${CMAKE_CURRENT_LIST_DIR}/stylize.c
  ${CMAKE_CURRENT_LIST_DIR}/metrics.c
  ${CMAKE_CURRENT_LIST_DIR}/unetpp.c
  ${CMAKE_CURRENT_LIST_DIR}/chart.c
  ${CMAKE_CURRENT_LIST_DIR}/evaluate_data.c
  ${CMAKE_CURRENT_LIST_DIR}/evaluate_train.c
  ${CMAKE_CURRENT_LIST_DIR}/evaluate.c)
target_include_directories(segq_pipeline PUBLIC ${CMAKE_CURRENT_LIST_DIR}
                                                ${PROJECT_SOURCE_DIR}/proto)
pkg_check_modules(CAIRO REQUIRED IMPORTED_TARGET cairo)
target_link_libraries(segq_pipeline PUBLIC segq_torch segq_image segq_contact_sheet segq_safetensors
                      segq_core PkgConfig::JANSSON PkgConfig::CAIRO m)

add_executable(segq-run ${CMAKE_CURRENT_LIST_DIR}/segq_run.c)
target_link_libraries(segq-run PRIVATE segq_pipeline segq_sample)
