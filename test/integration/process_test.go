package integration

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"k8s.io/client-go/rest"

	"github.com/registrar-dev/registrar/test/fixture"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// registrarBinary builds cmd/registrar once per test run.
func registrarBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "registrar-bin-")
		if err != nil {
			buildErr = err
			return
		}
		_, here, _, _ := runtime.Caller(0)
		binPath = filepath.Join(dir, "registrar")
		out, err := exec.Command("go", "build", "-o", binPath, filepath.Join(filepath.Dir(here), "../../cmd/registrar")).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("building registrar: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// writeKubeconfig writes c as a kubeconfig file in t's temp dir.
func writeKubeconfig(t *testing.T, c *rest.Config) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := fixture.WriteKubeconfig(c, path, ""); err != nil {
		t.Fatal(err)
	}
	return path
}

// process is a running registrar binary.
type process struct {
	t           *testing.T
	cmd         *exec.Cmd
	out         *syncBuffer
	metricsAddr string
	done        chan struct{}
}

// startProcess runs the registrar binary with args plus metrics and probe
// addresses of its own; it is killed when the test ends.
func startProcess(t *testing.T, kubeconfig string, args ...string) *process {
	t.Helper()
	p := &process{t: t, out: &syncBuffer{}, metricsAddr: freeAddr(t), done: make(chan struct{})}
	args = append([]string{"--kubeconfig", kubeconfig, "--metrics-bind-address", p.metricsAddr,
		"--health-probe-bind-address", freeAddr(t)}, args...)
	p.cmd = exec.Command(registrarBinary(t), args...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("registrar %d output:\n%s", p.cmd.Process.Pid, tail(p.out.String(), 4000))
		}
	})
	return p
}

func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// metric reads a counter or gauge summed over its label sets; 0 if absent.
func (p *process) metric(name string) float64 {
	p.t.Helper()
	resp, err := http.Get("http://" + p.metricsAddr + "/metrics")
	if err != nil {
		p.t.Fatalf("scraping metrics: %v", err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	sum := 0.0
	if mf, ok := families[name]; ok {
		for _, m := range mf.Metric {
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := fixture.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

func countLines(s, sub string) int {
	n := 0
	for _, line := range bytes.Split([]byte(s), []byte("\n")) {
		if strings.Contains(string(line), sub) {
			n++
		}
	}
	return n
}

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func writeFile(path string, data []byte) error { return os.WriteFile(path, data, 0o600) }

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
