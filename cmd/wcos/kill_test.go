package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/wcos-dev/wcos/internal/testmodels"
)

// TestFreqsSurvivesSIGKILL kills a real `wcos freqs` process with SIGKILL once it has checkpointed,
// reruns the same command, and requires a summary byte-identical to an uninterrupted run.
func TestFreqsSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs three passes")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "wcos")
	build := exec.Command("go", "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
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
	cmd := exec.Command(bin, args(out)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ckpt := filepath.Join(out+".partial", "checkpoint.safetensors")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(ckpt); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no checkpoint appeared")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(150 * time.Millisecond) // land somewhere inside the next batch
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	if _, err := os.Stat(filepath.Join(out, "summary.safetensors")); err == nil {
		t.Skip("the run finished before it could be killed; the machine is too fast for this test's data size")
	}
	if log := run(out); !bytes.Contains(log, []byte("resuming from")) {
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
