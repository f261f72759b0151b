package e2e

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
	"sigs.k8s.io/kind/pkg/apis/config/defaults"
	"sigs.k8s.io/kind/pkg/apis/config/v1alpha4"
)

// TestKindConfig checks kind-config.yaml as `kind create cluster --config`
// would, short of starting a cluster: kind's own v1alpha4 types, decoded
// strictly with the decoder kind uses (yamlUnmarshalStrict in
// pkg/internal/apis/config/encoding, go.yaml.in/yaml/v3 with KnownFields)
// so that a misspelt field fails, then kind's defaults. kind's Validate
// lives in an internal package; the rules of it this file can break are
// repeated below (pkg/internal/apis/config/validate.go in kind v0.33.0).
func TestKindConfig(t *testing.T) {
	raw, err := os.ReadFile("../../kind-config.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cfg v1alpha4.Cluster
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatalf("kind cannot decode kind-config.yaml: %v", err)
	}
	if cfg.APIVersion != "kind.x-k8s.io/v1alpha4" || cfg.Kind != "Cluster" {
		t.Fatalf("apiVersion %q kind %q, want kind.x-k8s.io/v1alpha4 Cluster", cfg.APIVersion, cfg.Kind)
	}
	v1alpha4.SetDefaultsCluster(&cfg)

	// validate.go: cluster names must match this (and stay short, so that
	// container names stay valid).
	if !regexp.MustCompile(`^[a-z0-9.-]+$`).MatchString(cfg.Name) {
		t.Errorf("cluster name %q is not valid for kind", cfg.Name)
	}
	if cfg.Name != "registrar-e2e" {
		t.Errorf("cluster name %q; hack/make/e2e.mk's KIND_CLUSTER says registrar-e2e", cfg.Name)
	}
	controlPlanes := 0
	for i, n := range cfg.Nodes {
		switch n.Role {
		case v1alpha4.ControlPlaneRole:
			controlPlanes++
		case v1alpha4.WorkerRole:
		default:
			t.Errorf("node %d: %q is not a valid node role", i, n.Role)
		}
		// A pinned node image keeps the suite reproducible: kind's default
		// image moves with every kind release.
		if !strings.Contains(n.Image, "@sha256:") {
			t.Errorf("node %d: image %q is not pinned by digest", i, n.Image)
		}
		if n.Image != defaults.Image {
			t.Logf("node %d: image %s differs from kind's default %s", i, n.Image, defaults.Image)
		}
	}
	if controlPlanes == 0 {
		t.Error("kind needs at least one control-plane node")
	}
	if cfg.Networking.DisableDefaultCNI {
		t.Error("the default CNI is disabled: nothing would give pods a network")
	}
}
