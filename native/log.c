#include <stdio.h>

#include "ggml.h"
#include "wcos_native.h"

static bool wcos_verbose;
static int wcos_last_level = GGML_LOG_LEVEL_INFO;

void wcos_log_verbose(bool on) { wcos_verbose = on; }

void wcos_log(int level, const char *text, void *user_data) {
    (void)user_data;
    // GGML_LOG_LEVEL_CONT continues the previous message at its level.
    if (level != GGML_LOG_LEVEL_CONT) wcos_last_level = level;
    if (wcos_verbose || wcos_last_level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
}
