package main

import (
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// Flags whose value would silently mean something else are refused before
// anything connects: exit status 2 and a message naming the flag.
func TestMisleadingFlagsAreRefused(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "registrar")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building the registrar: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		args []string
		says string
	}{
		// client-go reads a QPS of 0 as its default of 5 per second.
		{[]string{"--kube-api-qps=0"}, "--kube-api-qps must be -1"},
		{[]string{"--kube-api-burst=0", "--kube-api-qps=10"}, "--kube-api-burst at least 1"},
		{[]string{"--probe-concurrency=0"}, "--probe-concurrency at least 1"},
	} {
		out, err := exec.Command(bin, tc.args...).CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 {
			t.Errorf("registrar %v: %v, want exit status 2\n%s", tc.args, err, out)
			continue
		}
		if !strings.Contains(string(out), tc.says) {
			t.Errorf("registrar %v said %q, want it to say %q", tc.args, out, tc.says)
		}
	}
}
