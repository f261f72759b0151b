package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite docs/cli.md from the commands' help")

const referencePath = "../../docs/cli.md"

// cliReference is docs/cli.md: the --help of every command.
func cliReference(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("# Command-line reference\n\n" +
		"The `--help` of each command, as the binary prints it. Generated: `go test ./cmd/registrar\n" +
		"-run TestCLIReferenceIsCurrent -update` rewrites it, and the test fails when it is stale.\n")
	for _, command := range []string{"", "controller", "plan", "sync", "status", "version"} {
		args := strings.Fields(command + " --help")
		var out, errOut bytes.Buffer
		if code := execute(context.Background(), args, &out, &errOut); code != exitOK {
			t.Fatalf("registrar %s: exit %d\n%s", strings.Join(args, " "), code, errOut.String())
		}
		fmt.Fprintf(&b, "\n## %s\n\n```\n%s```\n", strings.TrimSpace("registrar "+command), out.String())
	}
	return b.String()
}

func TestCLIReferenceIsCurrent(t *testing.T) {
	want := cliReference(t)
	if *update {
		if err := os.WriteFile(referencePath, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(referencePath)
	if err != nil {
		t.Fatalf("%v; run go test ./cmd/registrar -run TestCLIReferenceIsCurrent -update", err)
	}
	if string(got) != want {
		t.Errorf("docs/cli.md is not the commands' help; run go test ./cmd/registrar -run TestCLIReferenceIsCurrent -update")
	}
}
