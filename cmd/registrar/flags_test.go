package main

import (
	"slices"
	"strings"
	"testing"
)

func TestArgoCDNamespaceList(t *testing.T) {
	for _, tc := range []struct {
		given []string
		want  []string
		err   string
	}{
		{given: []string{"argocd"}, want: []string{"argocd"}},
		// Repeated or comma-separated (pflag splits on commas): the first
		// is the default, the order kept.
		{given: []string{"production", " staging"}, want: []string{"production", "staging"}},
		{given: []string{"staging", "Prod"}, err: `--argocd-namespace: "Prod" is not a namespace name`},
		{given: []string{"staging", "staging"}, err: `"staging" is listed twice`},
		{given: []string{""}, err: "--argocd-namespace is empty"},
	} {
		got, err := argocdNamespaceList(tc.given)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%q: error %v, want one saying %q", tc.given, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%q: %v", tc.given, err)
		case tc.err == "" && !slices.Equal(got, tc.want):
			t.Errorf("%q: %v, want %v", tc.given, got, tc.want)
		}
	}
}
