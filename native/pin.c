// Keeps dlopened backend libraries mapped until the process ends: ggml's backend registry dlcloses
// them from a static destructor at exit, after which exit handlers that the CUDA runtime registered
// from inside libggml-cuda.so would jump into unmapped code.
#define _GNU_SOURCE
#include <dlfcn.h>

#include "wcos_native.h"

bool wcos_pin_library(const char *path) {
    // RTLD_NOLOAD: only a library already loaded; RTLD_NODELETE: never unmap it.
    return dlopen(path, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE) != NULL;
}
