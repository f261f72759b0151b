package docs

import (
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/registrar-dev/registrar/"

// layer is one row of the layering table at the top of architecture.md.
type layer struct {
	level    int
	noClient bool
}

// tableRow is "| 5 | `pkg/reconcile` | yes | ... |".
var tableRow = regexp.MustCompile("^\\| (\\d+) \\| `([a-z/]+)` \\| (yes|no) \\|")

// layers reads the layering table of architecture.md.
func layers(t *testing.T) map[string]layer {
	t.Helper()
	page, err := os.ReadFile("architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]layer{}
	for line := range strings.SplitSeq(string(page), "\n") {
		if m := tableRow.FindStringSubmatch(line); m != nil {
			level, _ := strconv.Atoi(m[1])
			out[m[2]] = layer{level: level, noClient: m[3] == "no"}
		}
	}
	if len(out) < 5 {
		t.Fatalf("only %d packages in architecture.md's layering table: is the parser still right?", len(out))
	}
	return out
}

// goList runs go list from the module root and returns its lines.
func goList(t *testing.T, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = ".."
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
	}
	return strings.Fields(string(out))
}

// TestImportsFollowTheLayering holds every package of pkg/ and cmd/ to the
// layering table: it imports only packages of lower layers, and a package
// marked "no client" links nothing that can reach an API server.
func TestImportsFollowTheLayering(t *testing.T) {
	table := layers(t)
	listed := map[string]bool{}
	for _, line := range goList(t, "-f", "{{.ImportPath}}:{{join .Imports \",\"}}", "./pkg/...", "./cmd/...") {
		path, imports, _ := strings.Cut(line, ":")
		pkg := strings.TrimPrefix(path, module)
		listed[pkg] = true
		own, ok := table[pkg]
		if !ok {
			t.Errorf("%s is not in architecture.md's layering table: give it a layer", pkg)
			continue
		}
		for imp := range strings.SplitSeq(imports, ",") {
			dep, ours := strings.CutPrefix(imp, module)
			if !ours {
				continue
			}
			if l, ok := table[dep]; ok && l.level >= own.level {
				t.Errorf("%s (layer %d) imports %s (layer %d): a package imports only lower layers", pkg, own.level, dep, l.level)
			}
		}
		if !own.noClient {
			continue
		}
		var clients []string
		for _, dep := range goList(t, "-deps", "./"+pkg) {
			if strings.HasPrefix(dep, "k8s.io/client-go/") || strings.HasPrefix(dep, "sigs.k8s.io/controller-runtime/") {
				clients = append(clients, dep)
			}
		}
		if len(clients) > 0 {
			t.Errorf("%s is marked \"no client\" but links %d client packages: %s", pkg, len(clients), strings.Join(clients, ", "))
		}
	}
	for pkg := range table {
		if !listed[pkg] {
			t.Errorf("architecture.md's layering table lists %s, which is no package", pkg)
		}
	}
}
