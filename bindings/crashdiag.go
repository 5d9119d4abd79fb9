package bindings

// #include "bindings.h"
import "C"

import "os"

// installCrashDiag installs native/crashdiag.c's fault printer when WCOS_CRASH_DIAG=1: on the first
// fault it names the faulting library and the library callers on the stack, then hands the fault
// to Go's handler, whose report follows. Called once, from initBackend.
func installCrashDiag() {
	if os.Getenv("WCOS_CRASH_DIAG") == "1" {
		C.wcos_crash_diag_install()
	}
}

// faultInC dereferences a null pointer inside libc (strlen), for the crash diagnosis test.
func faultInC() { C.strlen(nil) }
