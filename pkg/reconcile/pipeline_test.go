package reconcile

import (
	"os"
	"regexp"
	"slices"
	"testing"
)

// TestArchitectureListsEveryStep keeps docs/architecture.md's table of the
// pipeline in step with pipeline(): same steps, same order.
func TestArchitectureListsEveryStep(t *testing.T) {
	doc, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z-]+)` \\|").FindAllSubmatch(doc, -1) {
		documented = append(documented, string(m[1]))
	}
	var steps []string
	for _, s := range (&Reconciler{}).pipeline() {
		steps = append(steps, s.name)
	}
	if !slices.Equal(documented, steps) {
		t.Errorf("docs/architecture.md lists the steps %v; pipeline() runs %v", documented, steps)
	}
}
