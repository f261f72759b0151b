// Package chartdocs keeps the values table of charts/registrar/README.md
// generated from values.yaml: every key with its type, default and the
// description of its `# --` comment (helm-docs' convention). The test fails
// when the README differs from what values.yaml says, or when a key has no
// description; `make chart-docs` (go test ./test/chartdocs -update)
// rewrites the table.
package chartdocs

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

var update = flag.Bool("update", false, "rewrite the values table of charts/registrar/README.md")

const (
	valuesFile = "../../charts/registrar/values.yaml"
	readmeFile = "../../charts/registrar/README.md"
	begin      = "<!-- values:begin (generated from values.yaml by `make chart-docs`; do not edit) -->"
	end        = "<!-- values:end -->"
)

// row is one key of the table.
type row struct{ key, typ, def, desc string }

func TestValuesTableIsCurrent(t *testing.T) {
	raw, err := os.ReadFile(valuesFile)
	if err != nil {
		t.Fatal(err)
	}
	rows, errs := valueRows(raw)
	for _, err := range errs {
		t.Error(err)
	}
	readme, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	before, rest, ok := bytes.Cut(readme, []byte(begin))
	_, after, ok2 := bytes.Cut(rest, []byte(end))
	if !ok || !ok2 {
		t.Fatalf("%s lacks the markers %q and %q around the values table", readmeFile, begin, end)
	}
	want := append(append(append(append([]byte{}, before...), begin...), table(rows)...), append([]byte(end), after...)...)
	if bytes.Equal(readme, want) {
		return
	}
	if *update {
		if err := os.WriteFile(readmeFile, want, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("%s's values table differs from values.yaml: run `make chart-docs` (go test ./test/chartdocs -update) and commit the result", readmeFile)
}

// A key without a description, and one whose type the comment overrides,
// are read as the table needs: the check above can fail.
func TestValueRowsNeedDescriptions(t *testing.T) {
	rows, errs := valueRows([]byte("# -- (number) Queries per second.\nqps: -1\nnested:\n  # -- Documented.\n  a: {}\n  b: [x]\n"))
	if len(errs) != 1 || !strings.Contains(errs[0].Error(), "nested.b") {
		t.Errorf("errors = %v, want one naming nested.b", errs)
	}
	if len(rows) != 3 || rows[0] != (row{"qps", "number", "`-1`", "Queries per second."}) || rows[1] != (row{"nested.a", "object", "`{}`", "Documented."}) {
		t.Errorf("rows = %+v", rows)
	}
}

var typeOverride = regexp.MustCompile(`^\(([a-z]+)\)\s*`)

// valueRows reads values.yaml: a key whose value is a mapping and which
// has no description of its own is a heading, its keys are rows; every
// other key is a row.
func valueRows(raw []byte) ([]row, []error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, []error{err}
	}
	var (
		rows []row
		errs []error
		walk func(prefix string, m *yaml.Node)
	)
	walk = func(prefix string, m *yaml.Node) {
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, v := m.Content[i], m.Content[i+1]
			key := prefix + k.Value
			desc := description(k.HeadComment)
			if desc == "" && v.Kind == yaml.MappingNode && len(v.Content) > 0 {
				walk(key+".", v)
				continue
			}
			if desc == "" {
				errs = append(errs, fmt.Errorf("%s: key %s has no description (a `# -- ` comment above it)", valuesFile, key))
			}
			typ := kind(v)
			if m := typeOverride.FindStringSubmatch(desc); m != nil {
				typ, desc = m[1], desc[len(m[0]):]
			}
			rows = append(rows, row{key: key, typ: typ, def: defaultOf(v), desc: desc})
		}
	}
	if len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		walk("", doc.Content[0])
	}
	return rows, errs
}

// description is the `# -- ` paragraph of a head comment, one line; what
// comes before it (a section's own comment) is not the key's.
func description(head string) string {
	i := strings.LastIndex(head, "# -- ")
	if i < 0 {
		return ""
	}
	var words []string
	for _, line := range strings.Split(head[i+len("# -- "):], "\n") {
		line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#"))
		if line == "" {
			break
		}
		words = append(words, line)
	}
	return strings.Join(words, " ")
}

func kind(v *yaml.Node) string {
	switch {
	case v.Kind == yaml.SequenceNode:
		return "list"
	case v.Kind == yaml.MappingNode:
		return "object"
	case v.Tag == "!!bool":
		return "bool"
	case v.Tag == "!!int":
		return "int"
	case v.Tag == "!!float":
		return "float"
	case v.Tag == "!!null":
		return "null"
	}
	return "string"
}

// defaultOf is the value as compact JSON, in code.
func defaultOf(v *yaml.Node) string {
	var x any
	if err := v.Decode(&x); err != nil {
		return "?"
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(x); err != nil {
		return "?"
	}
	return "`" + strings.TrimSpace(b.String()) + "`"
}

func table(rows []row) []byte {
	var b strings.Builder
	b.WriteString("\n| Key | Type | Default | Description |\n|---|---|---|---|\n")
	esc := strings.NewReplacer("|", `\|`)
	for _, r := range rows {
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", r.key, r.typ, esc.Replace(r.def), esc.Replace(r.desc))
	}
	return []byte(b.String())
}
