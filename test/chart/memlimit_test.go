package chart

import (
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/registrar-dev/registrar/test/fixture"
)

// memoryEnv is the container's env that concerns the Go runtime's memory
// limit, by name.
func memoryEnv(c corev1.Container) map[string]corev1.EnvVar {
	out := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		if slices.Contains([]string{"GOMEMLIMIT", "REGISTRAR_MEMORY_LIMIT", "REGISTRAR_MEMORY_LIMIT_RATIO"}, e.Name) {
			out[e.Name] = e
		}
	}
	return out
}

// By default the container's memory limit reaches the registrar through
// the downward API, with the share of it the Go runtime may use;
// goMemLimit.value sets GOMEMLIMIT instead, and ratio 0 sets nothing.
func TestGoMemLimitEnv(t *testing.T) {
	env := memoryEnv(release{name: "registrar", namespace: "argocd"}.template(t).container(t))
	ref := env["REGISTRAR_MEMORY_LIMIT"].ValueFrom
	if len(env) != 2 || ref == nil || ref.ResourceFieldRef == nil || ref.ResourceFieldRef.ContainerName != "registrar" ||
		ref.ResourceFieldRef.Resource != "limits.memory" || env["REGISTRAR_MEMORY_LIMIT_RATIO"].Value != "0.9" {
		t.Errorf("default env = %+v, want REGISTRAR_MEMORY_LIMIT from the registrar container's limits.memory and ratio 0.9", env)
	}
	env = memoryEnv(release{name: "registrar", namespace: "argocd", set: []string{"goMemLimit.value=400MiB"}}.template(t).container(t))
	if len(env) != 1 || env["GOMEMLIMIT"].Value != "400MiB" {
		t.Errorf("goMemLimit.value=400MiB: env = %+v, want GOMEMLIMIT=400MiB alone", env)
	}
	env = memoryEnv(release{name: "registrar", namespace: "argocd", set: []string{"goMemLimit.ratio=0.75"}}.template(t).container(t))
	if env["REGISTRAR_MEMORY_LIMIT_RATIO"].Value != "0.75" {
		t.Errorf("goMemLimit.ratio=0.75: env = %+v", env)
	}
	env = memoryEnv(release{name: "registrar", namespace: "argocd", set: []string{"goMemLimit.ratio=0"}}.template(t).container(t))
	if len(env) != 0 {
		t.Errorf("goMemLimit.ratio=0: env = %+v, want none", env)
	}
}

// The registrar binary, run with the environment the chart gives its
// container (the downward API resolved as the kubelet does), keeps its heap
// under 90% of the chart's memory limit: the Go runtime's own metric says
// so.
func TestRegistrarTakesNinetyPercentOfTheMemoryLimit(t *testing.T) {
	in := install(t)
	c := in.m.container(t)
	env, err := fixture.ContainerEnv(c)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := fixture.WriteKubeconfig(cfg, kubeconfig, in.user()); err != nil {
		t.Fatal(err)
	}
	// A GOMEMLIMIT of the test's own environment would win: clear it.
	reg := fixture.StartControllerForTest(t, fixture.Command{Name: "registrar", Path: fixture.RegistrarBinary(t), Args: c.Args,
		Env: append([]string{"GOMEMLIMIT="}, env...)}, kubeconfig)
	limit := c.Resources.Limits.Memory().Value()
	want := float64(limit * 9 / 10)
	var got float64
	fixture.Eventually(t, "the registrar reports go_gc_gomemlimit_bytes", func() bool {
		m, err := reg.Metrics()
		got = m["go_gc_gomemlimit_bytes"]
		return err == nil && got != 0
	}, fixture.Within(timeout), fixture.WhileRunning(reg.Process))
	if got != want {
		t.Errorf("go_gc_gomemlimit_bytes = %.0f, want %.0f (90%% of the container's limit, %d bytes)", got, want, limit)
	}
}
