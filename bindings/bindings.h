// The one C preamble of package bindings: every Go file here includes only this header.
#ifndef WCOS_BINDINGS_H
#define WCOS_BINDINGS_H
#include <stdlib.h>
#include <string.h>
#include "llama.h"
#include "ggml.h"
#include "ggml-backend.h"
#include "ggml-cpu.h"
#include "gguf.h"
#include "wcos_native.h"
#endif
