package main

import (
	"strings"
	"testing"
)

// Help states each default once: pflag prints "(default ...)" after a
// flag's usage, so a usage that names a default of its own as well says
// it twice, and the two drift apart.
func TestHelpStatesEachDefaultOnce(t *testing.T) {
	flags, _ := realFlags()
	for name, f := range flags {
		if strings.Contains(f.Usage, "default") && f.DefValue != "" && f.DefValue != "[]" && f.DefValue != "false" {
			t.Errorf("--%s: its usage %q names a default, and pflag adds (default %s)", name, f.Usage, f.DefValue)
		}
	}
}

// Every flag is in a group of the help, so that a new flag is not left
// at the end under "Other flags".
func TestEveryFlagHasAHelpGroup(t *testing.T) {
	grouped := map[string]bool{}
	for _, g := range flagGroups {
		for _, name := range g.names {
			grouped[name] = true
		}
	}
	flags, commands := realFlags()
	for name := range flags {
		if !grouped[name] {
			t.Errorf("--%s (%s) is in no group of flagGroups", name, strings.Join(commands[name], ", "))
		}
	}
}
