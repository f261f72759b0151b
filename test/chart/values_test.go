package chart

import (
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// values.yaml and values.schema.json describe the same keys: every value
// has a schema property, and every property the chart owns (where the
// schema refuses unknown keys) has a value with its documentation in
// values.yaml.
func TestValuesAndSchemaAgree(t *testing.T) {
	var values map[string]any
	raw, err := os.ReadFile(chartDir + "/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &values); err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	raw, err = os.ReadFile(chartDir + "/values.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	var walk func(path string, values map[string]any, schema map[string]any)
	walk = func(path string, values map[string]any, schema map[string]any) {
		props, _ := schema["properties"].(map[string]any)
		if schema["additionalProperties"] != false || props == nil {
			return // free-form (resources, labels, a security context): the API server checks it
		}
		for k, v := range values {
			p, ok := props[k].(map[string]any)
			if !ok {
				t.Errorf("value %s%s has no property in values.schema.json", path, k)
				continue
			}
			if m, ok := v.(map[string]any); ok {
				walk(path+k+".", m, p)
			}
		}
		for k := range props {
			if _, ok := values[k]; !ok && k != "global" {
				t.Errorf("values.schema.json has property %s%s, which values.yaml neither sets nor documents", path, k)
			}
		}
	}
	walk("", values, schema)
}

// Every value the README's table names exists, so the table cannot speak
// of a value that was renamed or removed.
func TestReadmeNamesOnlyRealValues(t *testing.T) {
	readme, err := os.ReadFile(chartDir + "/README.md")
	if err != nil {
		t.Fatal(err)
	}
	out, err := helmRun("show", "values", chartDir)
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal([]byte(out), &values); err != nil {
		t.Fatal(err)
	}
	_, table, ok := strings.Cut(string(readme), "| Value | Flag |")
	if !ok {
		t.Fatal(`README.md has no table "| Value | Flag |"`)
	}
	table, _, _ = strings.Cut(table, "\n\n")
	rows := 0
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		rows++
		first := strings.Split(line, "|")[1]
		var parent []string
		for _, name := range strings.Split(first, ",") {
			name = strings.Trim(strings.TrimSpace(name), "`")
			path := strings.Split(name, ".")
			if path[0] == "" { // ".id": a sibling of the first name
				path = append(slices.Clone(parent), path[1:]...)
			} else {
				parent = path[:len(path)-1]
			}
			var v any = values
			for _, k := range path {
				m, isMap := v.(map[string]any)
				var found bool
				if v, found = m[k]; !isMap || !found {
					t.Errorf("README.md names value %s, which values.yaml does not have", name)
					break
				}
			}
		}
	}
	if rows < 10 {
		t.Errorf("read %d rows of the values table; the parse missed some", rows)
	}
}
