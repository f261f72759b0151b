package main

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// moduleRoot is where the scenarios' package paths start; go test runs in
// the package's own directory.
const moduleRoot = "../.."

// reliabilityPage is the documentation page that shows the scenarios table.
const reliabilityPage = "docs/reliability.md"

// TestDocsTableListsTheScenarios keeps the table of docs/reliability.md
// the scenarios table, row for row (the held column is a run's result).
// `make reliability RELIABILITY_FLAGS=-markdown` prints it anew.
func TestDocsTableListsTheScenarios(t *testing.T) {
	page, err := os.ReadFile(filepath.Join(moduleRoot, reliabilityPage))
	if err != nil {
		t.Fatal(err)
	}
	got := pageTable(t, string(page))
	for i, s := range scenarios {
		if i >= len(got) {
			t.Errorf("docs/reliability.md's table lacks row %d: %q", i+1, s.tried)
			continue
		}
		if want := [2]string{s.tried, nodeCell(s)}; got[i] != want {
			t.Errorf("docs/reliability.md's table, row %d:\n got %q\nwant %q", i+1, got[i], want)
		}
	}
	for _, extra := range got[min(len(got), len(scenarios)):] {
		t.Errorf("docs/reliability.md's table has a row no scenario runs: %q", extra)
	}
}

// pageTable returns the "what was tried" and "on a real node" cells of
// the first table of the page.
func pageTable(t *testing.T, page string) [][2]string {
	t.Helper()
	section := page
	var rows [][2]string
	inTable := false
	for line := range strings.Lines(section) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		inTable = true
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 3 {
			t.Fatalf("docs/reliability.md's table: row %q has %d cells, want 3 (held, what was tried, on a real node)", line, len(cells))
		}
		cell := strings.TrimSpace(cells[1])
		if cell == "what was tried" || strings.Trim(cell, "-:") == "" {
			continue // header and separator
		}
		rows = append(rows, [2]string{cell, strings.TrimSpace(cells[2])})
	}
	if len(rows) == 0 {
		t.Fatal("docs/reliability.md has no table")
	}
	return rows
}

// TestScenariosNameExistingTests catches a renamed or moved test, which
// would otherwise show up only as a row that did not run, or name a node
// test that no longer exists.
func TestScenariosNameExistingTests(t *testing.T) {
	for _, pkg := range packages() {
		funcs := topLevelFuncs(t, filepath.Join(moduleRoot, pkg))
		for _, s := range scenarios {
			if s.pkg == pkg && !funcs[s.test] {
				t.Errorf("scenario %s: no func %s in %s", s.test, s.test, pkg)
			}
		}
	}
	nodeFuncs := topLevelFuncs(t, filepath.Join(moduleRoot, "test", "e2e"))
	for _, s := range scenarios {
		if s.node != "" && !nodeFuncs[s.node] {
			t.Errorf("scenario %s: no func %s in ./test/e2e", s.test, s.node)
		}
	}
}

func topLevelFuncs(t *testing.T, dir string) map[string]bool {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*_test.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no test files in %s (%v)", dir, err)
	}
	funcs := map[string]bool{}
	fset := token.NewFileSet()
	for _, f := range files {
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range file.Decls {
			if fn, ok := decl.(*ast.FuncDecl); ok && fn.Recv == nil {
				funcs[fn.Name.Name] = true
			}
		}
	}
	return funcs
}

func TestPatternSelectsExactlyTheScenarios(t *testing.T) {
	re := regexp.MustCompile(pattern())
	for _, s := range scenarios {
		if !re.MatchString(s.test) {
			t.Errorf("pattern %s does not select %s", re, s.test)
		}
		if re.MatchString(s.test + "Slowly") {
			t.Errorf("pattern %s selects %sSlowly too", re, s.test)
		}
	}
}

func TestReportCountsMissingAsFailed(t *testing.T) {
	results := map[string]testEvent{}
	for _, s := range scenarios[1:] {
		results[s.test] = testEvent{Action: "pass", Test: s.test}
	}
	results[scenarios[1].test] = testEvent{Action: "fail", Test: scenarios[1].test}
	var out bytes.Buffer
	held, failed := report(&out, results, true)
	if held != len(scenarios)-2 || failed != 2 {
		t.Errorf("held %d, failed %d; want %d, 2", held, failed, len(scenarios)-2)
	}
	want := "| — | " + scenarios[0].tried + " | " + nodeCell(scenarios[0]) + " |\n| no | " + scenarios[1].tried + " | " + nodeCell(scenarios[1]) + " |\n"
	if !strings.Contains(out.String(), want) {
		t.Errorf("markdown table lacks\n%s\ngot\n%s", want, out.String())
	}
}
