#include "wcos_native.h"
