package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoArgoCDCodeInTheBinary keeps Argo CD's packages, which the tests use
// as the reference reader of what the registrar writes, out of the
// binary: they would add some 80 MB and their dependencies
// (docs/architecture.md, "Argo CD's code in tests only").
func TestNoArgoCDCodeInTheBinary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 100 {
		t.Fatalf("go list -deps listed %d packages; expected the binary's whole graph", len(deps))
	}
	for _, p := range deps {
		if strings.HasPrefix(p, "github.com/argoproj/") {
			t.Errorf("the registrar binary imports %s", p)
		}
	}
}
