package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wcos-dev/wcos/internal/testmodels"
)

// buildWcos builds the command into dir, for tests that kill a real process.
func buildWcos(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "wcos")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// killAfterSave starts bin with args, waits until file exists and differs from what it was before the
// start (a new checkpoint was saved), lets the process run a little further into the next batch and
// kills it with SIGKILL.
func killAfterSave(t *testing.T, bin string, args []string, file string) {
	t.Helper()
	before, _ := os.Stat(file)
	cmd := exec.Command(bin, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if st, err := os.Stat(file); err == nil && (before == nil || !os.SameFile(st, before) || st.ModTime() != before.ModTime()) {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("no new %s appeared", file)
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond) // land somewhere inside the next batch
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
}

// TestFreqsSurvivesSIGKILL kills a real `wcos freqs` process with SIGKILL once it has checkpointed,
// checks that a rerun with another --max-length is refused in one line, reruns the same command, and
// requires a summary byte-identical to an uninterrupted run.
func TestFreqsSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three passes")
	}
	dir := t.TempDir()
	bin := buildWcos(t, dir)
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	data := filepath.Join(testmodels.Root(), "data", "eval", "sotu-moby-valid.jsonl")
	args := func(out string) []string {
		return []string{"freqs", "--model", model, "--dataset", data, "--max-length", "64", "--max-tokens", "1600",
			"--batch-size", "2", "--checkpoint-rows", "2", "--exact", "--k", "4", "--out", out}
	}
	run := func(out string) []byte {
		cmd := exec.Command(bin, args(out)...)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("wcos %v: %v\n%s", args(out), err, b)
		}
		return b
	}
	full := filepath.Join(dir, "full")
	run(full)
	want, err := os.ReadFile(filepath.Join(full, "summary.safetensors"))
	if err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(dir, "killed")
	killAfterSave(t, bin, args(out), filepath.Join(out+".partial", "checkpoint.safetensors"))
	if _, err := os.Stat(filepath.Join(out, "summary.safetensors")); err == nil {
		t.Skip("the run finished before it could be killed; the machine is too fast for this test's data size")
	}
	// Other inputs: refused in one line naming the checkpoint and the difference.
	ckpt := filepath.Join(out+".partial", "checkpoint.safetensors")
	b, err := exec.Command(bin, append(args(out), "--max-length", "32")...).CombinedOutput()
	line := ""
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "wcos: ") {
			line = l
		}
	}
	if err == nil || !strings.Contains(line, ckpt) || !strings.Contains(line, "--max-length 64, this run has --max-length 32") {
		t.Errorf("a rerun with another --max-length was not refused with one line naming %s and the difference: %v\n%s", ckpt, err, b)
	}
	if log := run(out); !bytes.Contains(log, []byte("resuming from "+ckpt)) {
		t.Fatalf("the rerun did not resume from the checkpoint:\n%s", log)
	}
	got, err := os.ReadFile(filepath.Join(out, "summary.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("summary after SIGKILL and resume differs from the uninterrupted run")
	}
}

// TestEntropySurvivesSIGKILL kills a real `wcos entropy` process with SIGKILL once it has
// checkpointed (once, or again while the resumed run goes on), checks that a rerun with another
// --max-length is refused in one line, reruns the same command, and requires metrics.safetensors and
// summary.json byte-identical to an uninterrupted run's, and run.json identical but for its timing.
func TestEntropySurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs several passes")
	}
	dir := t.TempDir()
	bin := buildWcos(t, dir)
	model := testmodels.GGUF(t, testmodels.TinyDir(), "f32")
	data := filepath.Join(testmodels.Root(), "data", "eval", "sotu-moby-valid.jsonl")
	// The same --out for every run, so that run.json's arguments agree.
	out := filepath.Join(dir, "out")
	ckpt := filepath.Join(out+".partial", "checkpoint.safetensors")
	args := func(extra ...string) []string {
		return append([]string{"entropy", "--model", model, "--dataset", data, "--max-length", "64", "--max-tokens", "2400",
			"--batch-size", "2", "--checkpoint-batches", "1", "--exact", "--neurons", "5.1,7.100", "--gate", "-", "--out", out}, extra...)
	}
	run := func() []byte {
		b, err := exec.Command(bin, args()...).CombinedOutput()
		if err != nil {
			t.Fatalf("wcos %v: %v\n%s", args(), err, b)
		}
		return b
	}
	files := []string{"metrics.safetensors", "summary.json", "run.json"}
	read := func(dir string) map[string][]byte {
		m := map[string][]byte{}
		for _, f := range files {
			b, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if f == "run.json" {
				var v map[string]any
				if err := json.Unmarshal(b, &v); err != nil {
					t.Fatalf("run.json: %v", err)
				}
				for _, k := range []string{"started", "finished", "seconds", "tokens_per_second"} {
					delete(v, k)
				}
				b, _ = json.Marshal(v)
			}
			m[f] = b
		}
		return m
	}
	run()
	want := read(out)
	if err := os.RemoveAll(out); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name  string
		kills int
	}{{"killed once", 1}, {"killed twice", 2}} {
		for k := 0; k < tc.kills; k++ {
			killAfterSave(t, bin, args(), ckpt)
			if _, err := os.Stat(out); err == nil {
				t.Skipf("%s: the run finished before kill %d; the machine is too fast for this test's data size", tc.name, k+1)
			}
		}
		if k := tc.kills; k == 1 {
			// Other inputs: refused in one line naming the checkpoint and the difference.
			b, err := exec.Command(bin, args("--max-length", "32")...).CombinedOutput()
			line := ""
			for _, l := range strings.Split(string(b), "\n") {
				if strings.HasPrefix(l, "wcos: ") {
					line = l
				}
			}
			if err == nil || !strings.Contains(line, ckpt) || !strings.Contains(line, "--max-length 64, this run has --max-length 32") {
				t.Errorf("%s: a rerun with another --max-length was not refused with one line naming %s and the difference: %v\n%s", tc.name, ckpt, err, b)
			}
		}
		if log := run(); !bytes.Contains(log, []byte("resuming from "+ckpt)) {
			t.Fatalf("%s: the rerun did not resume from the checkpoint:\n%s", tc.name, log)
		}
		got := read(out)
		for _, f := range files {
			if !bytes.Equal(got[f], want[f]) {
				t.Errorf("%s: %s after SIGKILL and resume differs from the uninterrupted run's", tc.name, f)
			}
		}
		if _, err := os.Stat(out + ".partial"); err == nil {
			t.Errorf("%s: checkpoint folder left behind", tc.name)
		}
		os.RemoveAll(out)
	}
}
