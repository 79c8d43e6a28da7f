# Debian's arm-none-eabi-gcc and newlib, for the core BOARD_CPU_FLAGS names.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(CMAKE_C_COMPILER arm-none-eabi-gcc)
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(BOARD_CPU_FLAGS "-mcpu=cortex-m4 -mthumb -mfloat-abi=hard -mfpu=fpv4-sp-d16"
    CACHE STRING "The core's -mcpu, -mthumb and float ABI flags")
set(CMAKE_C_FLAGS_INIT "${BOARD_CPU_FLAGS} -ffunction-sections -fdata-sections")
set(CMAKE_EXE_LINKER_FLAGS_INIT "${BOARD_CPU_FLAGS}")
