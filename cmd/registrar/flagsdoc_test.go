package main

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// flagsPage is the documentation page whose "## Flags" table lists every flag.
const flagsPage = "../../docs/configuration.md"

// documentedFlag is a flag as the flags table of docs/configuration.md gives it.
type documentedFlag struct {
	def      string
	commands []string
}

// documentedFlags reads the table of the "## Flags" section of docs/configuration.md.
func documentedFlags(t *testing.T) map[string]documentedFlag {
	t.Helper()
	b, err := os.ReadFile(flagsPage)
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "\n## Flags\n")
	if !ok {
		t.Fatal(`docs/configuration.md has no section "## Flags"`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	names := regexp.MustCompile("`--([a-z0-9-]+)`")
	out := map[string]documentedFlag{}
	for _, line := range strings.Split(section, "\n") {
		if !strings.HasPrefix(line, "| `-") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) != 4 {
			t.Errorf("flags table row %q: want 4 cells (flag, default, commands, description)", line)
			continue
		}
		var flags []string
		for _, m := range names.FindAllStringSubmatch(cells[0], -1) {
			flags = append(flags, m[1])
		}
		defaults := strings.Split(cells[1], ", ")
		if len(defaults) != len(flags) {
			t.Errorf("flags table row %q: %d flags, %d defaults", line, len(flags), len(defaults))
			continue
		}
		for i, f := range flags {
			if _, dup := out[f]; dup {
				t.Errorf("the flags table lists --%s twice", f)
			}
			out[f] = documentedFlag{def: defaults[i], commands: strings.Split(cells[2], ", ")}
		}
	}
	if len(out) == 0 {
		t.Fatal("the flags table of docs/configuration.md lists no flag")
	}
	return out
}

// realFlags are the flags of every command that contacts a cluster, with
// the commands that define each.
func realFlags() (map[string]*pflag.Flag, map[string][]string) {
	flags, commands := map[string]*pflag.Flag{}, map[string][]string{}
	for _, cmd := range newRootCommand().Commands() {
		switch cmd.Name() {
		case "version", "completion", "help":
			continue
		}
		cmd.Flags().VisitAll(func(f *pflag.Flag) {
			if f.Name == "help" {
				return
			}
			flags[f.Name] = f
			commands[f.Name] = append(commands[f.Name], cmd.Name())
		})
	}
	return flags, commands
}

// The flags table of docs/configuration.md names every flag, the commands
// that take it and its real default: a default changed in the code, a flag
// added or moved, fails here until the page says so.
func TestFlagsTableMatchesTheFlags(t *testing.T) {
	documented := documentedFlags(t)
	flags, commands := realFlags()
	for name, f := range flags {
		doc, ok := documented[name]
		if !ok {
			t.Errorf("--%s (%s) is not in the flags table of docs/configuration.md", name, strings.Join(commands[name], ", "))
			continue
		}
		got, want := slices.Sorted(slices.Values(doc.commands)), slices.Sorted(slices.Values(commands[name]))
		if !slices.Equal(got, want) {
			t.Errorf("docs/configuration.md: --%s is a flag of %v; the code defines it on %v", name, got, want)
		}
		if msg := defaultMismatch(doc.def, f); msg != "" {
			t.Errorf("docs/configuration.md: --%s: %s", name, msg)
		}
	}
	for name := range documented {
		if _, ok := flags[name]; !ok {
			t.Errorf("docs/configuration.md lists --%s, which no command defines", name)
		}
	}
}

// defaultMismatch compares a default as the flags table writes it with the
// flag's: a literal (in backticks, or a number, duration or boolean) must
// equal it; words ("all", "none", "current") stand for an empty default.
func defaultMismatch(documented string, f *pflag.Flag) string {
	actual := strings.Trim(f.DefValue, "[]")
	literal, quoted := strings.CutPrefix(documented, "`")
	literal = strings.TrimSuffix(literal, "`")
	docDuration, errDuration := time.ParseDuration(literal)
	_, errNumber := strconv.ParseFloat(literal, 64)
	_, errBool := strconv.ParseBool(literal)
	var same bool
	switch {
	case !quoted && errNumber != nil && errBool != nil && errDuration != nil:
		same = actual == ""
	case f.Value.Type() == "duration":
		d, err := time.ParseDuration(actual)
		same = err == nil && errDuration == nil && d == docDuration
	default:
		same = literal == actual
	}
	if same {
		return ""
	}
	return fmt.Sprintf("the table says %s; the default is %s", documented, f.DefValue)
}
