package logging

import (
	"testing"

	"github.com/go-logr/logr/funcr"
)

func TestCapVerbosityDropsHighLevels(t *testing.T) {
	var got []string
	base := funcr.New(func(prefix, args string) { got = append(got, args) }, funcr.Options{Verbosity: 10})
	logger := CapVerbosity(base, MaxVerbosity).WithName("x").WithValues("k", "v")

	logger.V(MaxVerbosity).Info("kept")
	logger.V(MaxVerbosity + 1).Info("dropped")
	logger.V(8).Info("Response Body", "body", "secret")
	if logger.V(8).Enabled() {
		t.Error("V(8) reports enabled: client-go would build and log bodies")
	}
	logger.Error(nil, "errors always pass")
	if len(got) != 2 {
		t.Fatalf("logged %d lines, want 2: %q", len(got), got)
	}
}
