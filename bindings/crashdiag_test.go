package bindings_test

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/wcos-dev/wcos/bindings"
)

// TestCrashDiag runs a child that faults inside libc with WCOS_CRASH_DIAG=1: the diagnosis must name
// the faulting library and a caller in the test binary, and Go's own report must still follow.
func TestCrashDiag(t *testing.T) {
	if os.Getenv("WCOS_CRASH_DIAG_CHILD") == "1" {
		bindings.SystemInfo() // initBackend installs the handler
		// A nil dereference in Go still becomes a panic that can be recovered, with no diagnosis.
		func() {
			defer func() { fmt.Println("recovered:", recover() != nil) }()
			var p *int
			_ = *p
		}()
		bindings.FaultInC()
		return
	}
	for _, diag := range []string{"1", ""} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashDiag$", "-test.count=1")
		cmd.Env = append(os.Environ(), "WCOS_CRASH_DIAG_CHILD=1", "WCOS_CRASH_DIAG="+diag, "GOTRACEBACK=single")
		out, err := cmd.CombinedOutput()
		s := string(out)
		if err == nil {
			t.Fatalf("WCOS_CRASH_DIAG=%q: the child did not crash:\n%s", diag, s)
		}
		if !strings.Contains(s, "signal arrived during cgo execution") {
			t.Fatalf("WCOS_CRASH_DIAG=%q: no Go crash report after the diagnosis:\n%s", diag, s)
		}
		first := regexp.MustCompile(`(?m)^wcos crash diag: signal 0xb pc 0x[0-9a-f]+ libc\.so\.6\+0x[0-9a-f]+ .*addr 0x0$`)
		caller := regexp.MustCompile(`(?m)^  sp\+0x[0-9a-f]+: bindings\.test\+0x[0-9a-f]+`)
		has := first.MatchString(s) && caller.MatchString(s)
		if has != (diag == "1") {
			t.Fatalf("WCOS_CRASH_DIAG=%q: diagnosis printed %v, want %v:\n%s", diag, has, diag == "1", s)
		}
		if diag == "1" && strings.Index(s, "wcos crash diag") > strings.Index(s, "SIGSEGV") {
			t.Fatalf("the diagnosis must come before Go's report:\n%s", s)
		}
		if !strings.Contains(s, "recovered: true") || strings.Count(s, "wcos crash diag") > 1 {
			t.Fatalf("WCOS_CRASH_DIAG=%q: a recovered Go nil dereference must stay a quiet panic:\n%s", diag, s)
		}
	}
}
