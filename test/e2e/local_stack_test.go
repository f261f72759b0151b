//go:build e2elocal

package e2e

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	yamlutil "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/registrar-dev/registrar/test/fixture"
)

// stack runs the offline twin's processes, each logging to a file of its
// own, and stops them in reverse order of start. On a failed test it dumps
// the tail of every log.
type stack struct {
	t     *testing.T
	dir   string
	procs []*proc
	// stops run after the processes are stopped, last registered first.
	stops []func()
}

type proc struct {
	name, log string
	cmd       *exec.Cmd
	exited    chan struct{}
	err       error
}

// logTail is how much of each log a failed run shows.
const logTail = 150

func newStack(t *testing.T) *stack {
	dir, err := os.MkdirTemp("", "registrar-e2e-")
	if err != nil {
		t.Fatal(err)
	}
	s := &stack{t: t, dir: dir}
	t.Cleanup(func() {
		if t.Failed() {
			s.dumpLogs()
		}
		s.stopAll()
		if !t.Failed() {
			_ = os.RemoveAll(dir)
		} else {
			t.Logf("logs and data kept in %s", dir)
		}
	})
	return s
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
func (s *stack) start(name string, env []string, bin string, args ...string) *proc {
	s.t.Helper()
	p := &proc{name: name, log: filepath.Join(s.dir, name+".log"), exited: make(chan struct{})}
	f, err := os.Create(p.log)
	if err != nil {
		s.t.Fatal(err)
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = f, f
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		s.t.Fatalf("starting %s: %v", name, err)
	}
	s.procs = append(s.procs, p)
	go func() {
		p.err = p.cmd.Wait()
		f.Close()
		close(p.exited)
	}()
	return p
}

// waitReady polls ready until it returns nil, failing the test when p exits
// first or timeout passes.
func (s *stack) waitReady(p *proc, timeout time.Duration, ready func() error) {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		err := ready()
		if err == nil {
			return
		}
		select {
		case <-p.exited:
			s.t.Fatalf("%s exited before it was ready (%v):\n%s", p.name, p.err, tail(p.log, logTail))
		case <-deadline:
			s.t.Fatalf("%s not ready after %s: %v", p.name, timeout, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *stack) stopAll() {
	for i := len(s.procs) - 1; i >= 0; i-- {
		p := s.procs[i]
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	}
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
}

func (s *stack) dumpLogs() {
	for _, p := range s.procs {
		state := "running"
		select {
		case <-p.exited:
			state = fmt.Sprintf("exited: %v", p.err)
		default:
		}
		s.t.Logf("===== %s (%s), last %d lines of %s =====\n%s", p.name, state, logTail, p.log, tail(p.log, logTail))
	}
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// freeAddr asks the kernel for a free loopback port.
func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := fixture.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
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

func httpOK(url string) func() error {
	return func() error {
		c := http.Client{Timeout: time.Second}
		resp, err := c.Get(url)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return errors.New(url + ": " + resp.Status)
		}
		return nil
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
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("helm template %s: %v\n%s", chart, err, stderr)
	}
	var objs []*unstructured.Unstructured
	dec := yamlutil.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	for {
		var u unstructured.Unstructured
		if err := dec.Decode(&u.Object); err == io.EOF {
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
