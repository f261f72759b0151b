package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"

	"github.com/registrar-dev/registrar/test/fixture"
)

// releaseNamespace is the namespace the chart is rendered for: its
// --leader-election-namespace, created in the API server before the run.
const releaseNamespace = "registrar-bench"

// chartFlags are the registrar's arguments as the chart renders them
// (`helm template` of -chart with -set), so the benchmark measures what
// users run, not a hand-kept copy of the defaults.
type chartFlags struct {
	args []string
	// env is the container's environment as the kubelet would give it
	// (fixture.ContainerEnv): the Go runtime's memory limit the chart sets
	// from its resources, so the memory rows are measured under it.
	env []string
}

// renderChartFlags runs helm template and returns the container args of
// the registrar's Deployment.
func renderChartFlags(helm, chart string, set []string) (chartFlags, error) {
	cmdArgs := []string{"template", "registrar", chart, "--namespace", releaseNamespace}
	for _, s := range set {
		cmdArgs = append(cmdArgs, "--set", s)
	}
	var stderr bytes.Buffer
	cmd := exec.Command(helm, cmdArgs...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return chartFlags{}, fmt.Errorf("helm template %s: %w: %s (set -helm, or run `make helm`)", chart, err, strings.TrimSpace(stderr.String()))
	}
	for _, doc := range strings.Split(string(out), "\n---") {
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil || d.Kind != "Deployment" {
			continue
		}
		for _, c := range d.Spec.Template.Spec.Containers {
			if c.Name == "registrar" {
				env, err := fixture.ContainerEnv(c)
				if err != nil {
					return chartFlags{}, fmt.Errorf("helm template %s: the registrar's environment: %w", chart, err)
				}
				// A GOMEMLIMIT of this program's own environment would
				// win over the chart's: clear it, then the chart's.
				return chartFlags{args: c.Args, env: append([]string{"GOMEMLIMIT="}, env...)}, nil
			}
		}
	}
	return chartFlags{}, fmt.Errorf("helm template %s rendered no Deployment with a registrar container", chart)
}

// value is the rendered value of flag name ("--kube-api-qps"), or "".
func (f chartFlags) value(name string) string {
	for _, a := range f.args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v
		}
	}
	return ""
}

// with returns the rendered args with the flags of overrides replaced
// (only those the chart renders: an older chart may lack some). The
// benchmark overrides the Argo CD namespace of each instance it runs side
// by side and, for the extra rows, --max-concurrent-reconciles; the
// kubeconfig and loopback metrics and probe addresses are appended by
// fixture.StartController and win over the rendered ones.
func (f chartFlags) with(overrides map[string]string) []string {
	out := make([]string, 0, len(f.args))
	for _, a := range f.args {
		name, _, _ := strings.Cut(a, "=")
		if v, ok := overrides[name]; ok {
			a = name + "=" + v
		}
		out = append(out, a)
	}
	return out
}

// String is the rendered environment and args, one line (the leading
// GOMEMLIMIT= that clears this program's own is left out).
func (f chartFlags) String() string {
	env := slices.DeleteFunc(slices.Clone(f.env), func(e string) bool { return e == "GOMEMLIMIT=" })
	return strings.Join(append(env, f.args...), " ")
}
