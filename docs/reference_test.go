package docs

import (
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated parts of docs/api.md and docs/troubleshooting.md")

// Where the references come from: the package that declares the
// registrar's labels, annotations and Event reasons; the packages whose code
// emits the Events and declares the keys it reads of vcluster and Argo CD.
var (
	emittersDirs = []string{"../pkg/vcluster", "../pkg/registration", "../pkg/reconcile"}
	foreignDirs  = []string{"../pkg/vcluster", "../pkg/registration"}
)

const (
	apiDir       = "../pkg/api"
	apiPage      = "api.md"
	reasonsPage  = "troubleshooting.md"
	regenerate   = "go test ./docs -run TestGeneratedReferencesAreCurrent -update"
	beginMarker  = "<!-- BEGIN GENERATED %s: "
	endMarker    = "<!-- END GENERATED %s -->"
	keysBlock    = "annotations and labels"
	reasonsBlock = "event reasons"
)

// constant is one string constant of the API package.
type constant struct {
	name, value, doc string
}

// group is one const block: its doc comment and its constants, in source
// order.
type group struct {
	doc       string
	constants []constant
}

// parseConstants reads the string constants of the package in dir, by
// block, with their doc comments. Values are literals or concatenations of
// literals and other constants of the package (Prefix + "ignore").
func parseConstants(t *testing.T, dir string) []group {
	t.Helper()
	fset := token.NewFileSet()
	files := sourceFiles(t, fset, dir)
	exprs := map[string]ast.Expr{}
	var groups []group
	for _, f := range files {
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			g := group{doc: oneLine(gd.Doc.Text())}
			var docs []string
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				doc := oneLine(vs.Doc.Text())
				if doc != "" {
					docs = append(docs, doc)
				}
				for i, name := range vs.Names {
					if i >= len(vs.Values) {
						continue
					}
					exprs[name.Name] = vs.Values[i]
					d := doc
					if d == "" {
						// A comment may speak for the constants after it:
						// "ProjectAnnotation, NamespacesAnnotation and ...".
						for _, earlier := range slices.Backward(docs) {
							if strings.Contains(earlier, name.Name) {
								d = earlier
								break
							}
						}
					}
					g.constants = append(g.constants, constant{name: name.Name, doc: d})
				}
			}
			groups = append(groups, g)
		}
	}
	for gi := range groups {
		for ci := range groups[gi].constants {
			c := &groups[gi].constants[ci]
			v, ok := evalString(exprs, exprs[c.name])
			if !ok {
				c.name = "" // not a string constant
				continue
			}
			c.value = v
		}
	}
	return groups
}

func sourceFiles(t *testing.T, fset *token.FileSet, dir string) []*ast.File {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, name := range names {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatalf("no Go source in %s", dir)
	}
	return files
}

func evalString(exprs map[string]ast.Expr, e ast.Expr) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.Ident:
		if next, ok := exprs[e.Name]; ok {
			return evalString(exprs, next)
		}
	case *ast.ParenExpr:
		return evalString(exprs, e.X)
	case *ast.BinaryExpr:
		if e.Op == token.ADD {
			x, okX := evalString(exprs, e.X)
			y, okY := evalString(exprs, e.Y)
			return x + y, okX && okY
		}
	}
	return "", false
}

// oneLine is a comment as one line of a Markdown table cell: pipes
// escaped, and angle brackets too, so that "<release>" is not read as HTML.
func oneLine(s string) string {
	return strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;").Replace(strings.Join(strings.Fields(s), " "))
}

// firstSentence is the first sentence of a one-line comment.
func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}

// keysReference is the table of every label and annotation constant, one
// table per const block, with the block's comment above it. A label whose
// constant has a XValue sibling (ManagedByLabel, ManagedByValue) shows its
// value too.
// foreignConstants are the constants of foreignDirs, named with their
// package ("vcluster.AppLabel"), so that a reader finds where each is
// declared.
func foreignConstants(t *testing.T) []group {
	var groups []group
	for _, dir := range foreignDirs {
		for _, g := range parseConstants(t, dir) {
			for i := range g.constants {
				if g.constants[i].name != "" {
					g.constants[i].name = filepath.Base(dir) + "." + g.constants[i].name
				}
			}
			groups = append(groups, g)
		}
	}
	return groups
}

func keysReference(groups []group) string {
	values := map[string]string{}
	for _, g := range groups {
		for _, c := range g.constants {
			values[c.name] = c.value
		}
	}
	var b strings.Builder
	for _, g := range groups {
		var rows []string
		for _, c := range g.constants {
			isKey := strings.HasSuffix(c.name, "Label") || strings.HasSuffix(c.name, "Annotation")
			if c.name == "" || !isKey {
				continue
			}
			key := "`" + c.value + "`"
			if v, ok := values[strings.TrimSuffix(c.name, "Label")+"Value"]; ok && strings.HasSuffix(c.name, "Label") {
				key = "`" + c.value + ": " + v + "`"
			}
			rows = append(rows, fmt.Sprintf("| %s | `%s` | %s |\n", key, c.name, dash(c.doc)))
		}
		if len(rows) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s\n\n| key | constant | what the code says |\n|---|---|---|\n%s", g.doc, strings.Join(rows, ""))
	}
	return b.String()
}

// emittedTypes reads, from the code that emits Events, the type of each
// reason: Recorder.Eventf(obj, nil, corev1.EventTypeWarning, ReasonX, ...)
// says it directly; a reason an input error carries (inputErrorf(ReasonX,
// ...)) is emitted as a Warning by the reconcile.
func emittedTypes(t *testing.T, dirs ...string) map[string][]string {
	t.Helper()
	types := map[string][]string{}
	add := func(reason, typ string) {
		if !slices.Contains(types[reason], typ) {
			types[reason] = append(types[reason], typ)
			slices.Sort(types[reason])
		}
	}
	var files []*ast.File
	for _, dir := range dirs {
		files = append(files, sourceFiles(t, token.NewFileSet(), dir)...)
	}
	for _, f := range files {
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			switch callee := lastName(call.Fun); {
			case callee == "Eventf" && len(call.Args) >= 4:
				typ := strings.TrimPrefix(lastName(call.Args[2]), "EventType")
				if reason := lastName(call.Args[3]); strings.HasPrefix(reason, "Reason") && typ != "" {
					add(reason, typ)
				}
			case strings.EqualFold(callee, "inputErrorf") && len(call.Args) >= 1:
				if reason := lastName(call.Args[0]); strings.HasPrefix(reason, "Reason") {
					add(reason, "Warning")
				}
			}
			return true
		})
	}
	return types
}

// lastName is the identifier an expression ends with: X for X, pkg.X and
// r.Recorder.X.
func lastName(e ast.Expr) string {
	switch e := e.(type) {
	case *ast.Ident:
		return e.Name
	case *ast.SelectorExpr:
		return e.Sel.Name
	}
	return ""
}

// reason is an Event reason as the code declares and emits it.
type reason struct {
	constant, value, doc string
	types                []string
}

func reasons(groups []group, types map[string][]string) []reason {
	var out []reason
	for _, g := range groups {
		for _, c := range g.constants {
			if c.name == "" || !strings.HasPrefix(c.name, "Reason") {
				continue
			}
			doc := c.doc
			if doc == "" {
				doc = firstSentence(g.doc)
			}
			out = append(out, reason{constant: c.name, value: c.value, doc: doc, types: types[c.name]})
		}
	}
	return out
}

func reasonsReference(rs []reason) string {
	var b strings.Builder
	b.WriteString("\n| reason | type | constant | what the code says |\n|---|---|---|---|\n")
	for _, r := range rs {
		typ := strings.Join(r.types, ", ")
		if typ == "" {
			typ = "never emitted"
		}
		fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", r.value, typ, r.constant, dash(r.doc))
	}
	return b.String()
}

func dash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// replaceBlock puts body between the page's markers of block, keeping the
// rest of the marker lines (their instructions) as they are.
func replaceBlock(t *testing.T, page, block, body string) string {
	t.Helper()
	begin, end := fmt.Sprintf(beginMarker, block), fmt.Sprintf(endMarker, block)
	i := strings.Index(page, begin)
	j := strings.Index(page, end)
	if i < 0 || j < i {
		t.Fatalf("no %q ... %q markers", begin, end)
	}
	lineEnd := i + strings.Index(page[i:], "\n") + 1
	return page[:lineEnd] + body + "\n" + page[j:]
}

// The annotation and label reference of docs/api.md and the Event reasons
// of docs/troubleshooting.md are generated from the code: a constant added,
// renamed or re-documented, or a reason emitted with another type, fails
// here until they are regenerated.
func TestGeneratedReferencesAreCurrent(t *testing.T) {
	groups := parseConstants(t, apiDir)
	rs := reasons(groups, emittedTypes(t, emittersDirs...))
	for _, want := range []struct{ page, block, body string }{
		{apiPage, keysBlock, keysReference(append(foreignConstants(t), groups...))},
		{reasonsPage, reasonsBlock, reasonsReference(rs)},
	} {
		b, err := os.ReadFile(want.page)
		if err != nil {
			t.Fatal(err)
		}
		got := string(b)
		regenerated := replaceBlock(t, got, want.block, want.body)
		if *update && regenerated != got {
			if err := os.WriteFile(want.page, []byte(regenerated), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if regenerated != got {
			t.Errorf("docs/%s: the %s between its markers are not what the code says; run %s", want.page, want.block, regenerate)
		}
	}
}

// The hand-written table of docs/troubleshooting.md (cause, fix, check)
// has one row per reason the code declares, with the type the code emits
// it with, and no row for a reason the code does not have.
func TestTroubleshootingCoversEveryReason(t *testing.T) {
	rs := reasons(parseConstants(t, apiDir), emittedTypes(t, emittersDirs...))
	b, err := os.ReadFile(reasonsPage)
	if err != nil {
		t.Fatal(err)
	}
	page := string(b)
	if i := strings.Index(page, fmt.Sprintf(beginMarker, reasonsBlock)); i >= 0 {
		page = page[:i] // the hand-written table comes before the generated one
	}
	row := regexp.MustCompile("(?m)^\\| `([A-Za-z]+)` \\| (Normal|Warning) \\|")
	documented := map[string]string{}
	for _, m := range row.FindAllStringSubmatch(page, -1) {
		documented[m[1]] = m[2]
	}
	declared := map[string]bool{}
	for _, r := range rs {
		declared[r.value] = true
		typ, ok := documented[r.value]
		switch {
		case !ok:
			t.Errorf("docs/%s: no row for Event reason %s (%s): say its cause, fix and the command to check", reasonsPage, r.value, r.constant)
		case len(r.types) == 0:
			t.Errorf("%s (%s) is declared but the code never emits it", r.value, r.constant)
		case len(r.types) > 1 || r.types[0] != typ:
			t.Errorf("docs/%s: %s is a %s event in the table; the code emits it as %s", reasonsPage, r.value, typ, strings.Join(r.types, ", "))
		}
	}
	for reason := range documented {
		if !declared[reason] {
			t.Errorf("docs/%s has a row for Event reason %s, which the code does not declare", reasonsPage, reason)
		}
	}
	if len(rs) < 10 {
		t.Errorf("only %d Event reasons found in %s: is the parser still right?", len(rs), apiDir)
	}
}

// Every registrar.dev/ key the README and the docs name is one the code
// declares: a renamed or misspelt key in a page fails here. A trailing "-"
// ("registrar.dev/source-*") names a family and must prefix a key.
func TestDocumentedKeysExist(t *testing.T) {
	known := map[string]bool{}
	var prefix string
	for _, g := range parseConstants(t, apiDir) {
		for _, c := range g.constants {
			if c.name == "Prefix" {
				prefix = c.value
			}
			known[c.value] = true
		}
	}
	if prefix == "" {
		t.Fatalf("no constant Prefix in %s", apiDir)
	}
	mention := regexp.MustCompile(regexp.QuoteMeta(prefix) + `[a-z0-9-]+`)
	for _, page := range append(pages(t), "../CONTRIBUTING.md", "../SECURITY.md", "../CHANGELOG.md") {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range mention.FindAllString(string(b), -1) {
			if known[key] {
				continue
			}
			family := strings.HasSuffix(key, "-") && slices.ContainsFunc(slices.Collect(maps.Keys(known)), func(k string) bool {
				return strings.HasPrefix(k, key)
			})
			if !family {
				t.Errorf("%s names %s, which the code does not declare", page, key)
			}
		}
	}
}
