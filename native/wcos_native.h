// wcos native hooks: per-element work on MLP activations and logits, called from llama.cpp's eval callback.
#ifndef WCOS_NATIVE_H
#define WCOS_NATIVE_H
#include <stdbool.h>
#include <stdint.h>
#endif
