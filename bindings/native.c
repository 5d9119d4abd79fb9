// cgo compiles only the C files of a package's own folder; the native sources live in native/ and
// are compiled here, as part of package bindings.
#include "../native/hooks.c"
#include "../native/metrics.c"
#include "../native/log.c"
#include "../native/matmul.c"
#include "../native/stats.c"
