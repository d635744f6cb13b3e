FUZZERS += profile
FUZZ_SRCS_profile := tests/fuzz/fuzz_profile.c flasher/profile.c \
    flasher/dfu_parse.c flasher/dfu_list.c flasher/dfu_xfer.c \
    stamp-format/stamp.c stamp-format/stamp_names.c stamp-format/stamp_build.c
