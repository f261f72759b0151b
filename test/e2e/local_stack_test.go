//go:build e2elocal

package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	yamlutil "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/registrar-dev/registrar/test/fixture"
)

// stack is the offline twin's working directory: its processes log there
// (fixture.StartForTest stops them in reverse order of start and, on a
// failed test, shows the tail of every log), and it is kept when the test
// fails.
type stack struct {
	t   *testing.T
	dir string
}

func newStack(t *testing.T) *stack {
	dir, err := os.MkdirTemp("", "registrar-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			_ = os.RemoveAll(dir)
		} else {
			t.Logf("logs and data kept in %s", dir)
		}
	})
	return &stack{t: t, dir: dir}
}

// path makes a directory under the stack's and returns it.
func (s *stack) path(elem ...string) string {
	p := filepath.Join(append([]string{s.dir}, elem...)...)
	if err := os.MkdirAll(p, 0o755); err != nil {
		s.t.Fatal(err)
	}
	return p
}

// start runs bin with args and extra environment, logging to <name>.log.
func (s *stack) start(name string, env []string, bin string, args ...string) *fixture.Process {
	s.t.Helper()
	return fixture.StartForTest(s.t, fixture.Command{Name: name, Path: bin, Args: args, Env: env, Log: s.log(name)})
}

func (s *stack) log(name string) string { return filepath.Join(s.dir, name+".log") }

// waitReady polls ready until it returns nil, failing the test when p exits
// first or timeout passes.
func (s *stack) waitReady(p *fixture.Process, timeout time.Duration, ready func() error) {
	s.t.Helper()
	fixture.Await(s.t, p.Name+" is ready", fixture.Succeeds(ready), fixture.Within(timeout), fixture.WhileRunning(p))
}

func port(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

func dialable(addr string) func() error {
	return func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	}
}

// run runs a short command to completion, failing the test on error.
func run(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// requireTools fails the test, rather than skipping it, when something the
// twin runs is missing: a skipped e2e test proves nothing.
func requireTools(t *testing.T, bins ...string) {
	t.Helper()
	var missing []string
	for _, b := range bins {
		if strings.ContainsRune(b, '/') {
			if st, err := os.Stat(b); err != nil || st.Mode()&0o111 == 0 {
				missing = append(missing, b)
			}
		} else if _, err := exec.LookPath(b); err != nil {
			missing = append(missing, b)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("missing %s: run `make e2e-local`, which builds and installs them", strings.Join(missing, ", "))
	}
}

// goModuleDir is the directory of module mod in the Go module cache.
func goModuleDir(ctx context.Context, t *testing.T, mod string) string {
	t.Helper()
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Dir}}", mod).Output()
	dir := strings.TrimSpace(string(out))
	if err != nil || dir == "" {
		t.Fatalf("locating %s in the module cache: %v", mod, err)
	}
	return dir
}

// copyExecutable copies src into dir with mode 0755 (files in the module
// cache are read-only and may lack the execute bit).
func copyExecutable(t *testing.T, src, dir string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, filepath.Base(src)), data, 0o755); err != nil {
		t.Fatal(err)
	}
}

var errNoHead = errors.New("no HEAD served yet")

// execOutput runs a short command and returns its combined output.
func execOutput(env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// renderChart renders a Helm chart with helm template, as `helm install`
// would in namespace, and returns its objects.
func renderChart(t *testing.T, helm, chart, release, namespace string) []*unstructured.Unstructured {
	t.Helper()
	out, err := exec.Command(helm, "template", release, chart, "--namespace", namespace).Output()
	if err != nil {
		var stderr []byte
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("helm template %s: %v\n%s", chart, err, stderr)
	}
	var objs []*unstructured.Unstructured
	dec := yamlutil.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding the rendered chart: %v", err)
		}
		if len(u.Object) > 0 {
			objs = append(objs, &u)
		}
	}
	return objs
}
