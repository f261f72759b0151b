package main

import (
	"bytes"
	"context"
	"math"
	"runtime/debug"
	"strings"
	"testing"
)

func TestGoMemLimit(t *testing.T) {
	for _, tc := range []struct {
		name string
		env  map[string]string
		want int64
		err  string
	}{
		{name: "nothing set: the runtime's own default", env: nil, want: 0},
		{name: "90% of the container's limit by default", env: map[string]string{envMemoryLimit: "536870912"}, want: 483183820},
		{name: "another ratio", env: map[string]string{envMemoryLimit: "1000", envMemoryLimitRatio: "0.5"}, want: 500},
		{name: "all of it", env: map[string]string{envMemoryLimit: "1000", envMemoryLimitRatio: "1"}, want: 1000},
		{name: "GOMEMLIMIT wins", env: map[string]string{"GOMEMLIMIT": "400MiB", envMemoryLimit: "536870912"}, want: 0},
		{name: "GOMEMLIMIT off wins too", env: map[string]string{"GOMEMLIMIT": "off", envMemoryLimit: "536870912"}, want: 0},
		{name: "a quantity is not bytes", env: map[string]string{envMemoryLimit: "512Mi"}, err: `REGISTRAR_MEMORY_LIMIT="512Mi": want the container's memory limit in bytes`},
		{name: "zero", env: map[string]string{envMemoryLimit: "0"}, err: "REGISTRAR_MEMORY_LIMIT"},
		{name: "ratio above 1", env: map[string]string{envMemoryLimit: "1000", envMemoryLimitRatio: "1.5"}, err: `REGISTRAR_MEMORY_LIMIT_RATIO="1.5": want a fraction`},
		{name: "ratio 0", env: map[string]string{envMemoryLimit: "1000", envMemoryLimitRatio: "0"}, err: "REGISTRAR_MEMORY_LIMIT_RATIO"},
		{name: "ratio a percentage", env: map[string]string{envMemoryLimit: "1000", envMemoryLimitRatio: "90%"}, err: "REGISTRAR_MEMORY_LIMIT_RATIO"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := goMemLimit(func(k string) string { return tc.env[k] })
			switch {
			case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
				t.Errorf("error %v, want one saying %q", err, tc.err)
			case tc.err == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case got != tc.want:
				t.Errorf("limit = %d, want %d", got, tc.want)
			}
		})
	}
}

// Every subcommand sets the limit before it runs, and a wrong variable is
// a configuration error of one line.
func TestExecuteSetsGoMemLimit(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(before) })
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv(envMemoryLimit, "1048576000")
	t.Setenv(envMemoryLimitRatio, "")
	var stdout, stderr bytes.Buffer
	if code := execute(context.Background(), []string{"version"}, &stdout, &stderr); code != exitOK {
		t.Fatalf("version exited %d: %s", code, stderr.String())
	}
	if got := debug.SetMemoryLimit(-1); got != 943718400 {
		t.Errorf("runtime memory limit = %d, want 943718400 (90%% of 1000 MiB)", got)
	}
	if got := goMemLimitString(943718400); got != "900MiB" {
		t.Errorf("goMemLimitString = %q, want 900MiB", got)
	}
	if got := goMemLimitString(math.MaxInt64); got != "off" {
		t.Errorf("goMemLimitString(MaxInt64) = %q, want off", got)
	}

	t.Setenv(envMemoryLimit, "lots")
	stderr.Reset()
	if code := execute(context.Background(), []string{"version"}, &stdout, &stderr); code != exitUsage ||
		!strings.HasPrefix(stderr.String(), `registrar: REGISTRAR_MEMORY_LIMIT="lots"`) || strings.Count(stderr.String(), "\n") != 1 {
		t.Errorf("a wrong REGISTRAR_MEMORY_LIMIT: exit %d, stderr %q; want %d and one line naming it", code, stderr.String(), exitUsage)
	}
}
