package main

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestArgoCDNamespaceList(t *testing.T) {
	for _, tc := range []struct {
		single, list string
		singleSet    bool
		want         []string
		err          string
	}{
		{single: "argocd", want: []string{"argocd"}},
		{single: "gitops", singleSet: true, want: []string{"gitops"}},
		// The list alone: its first is the default.
		{single: "argocd", list: "staging, production", want: []string{"staging", "production"}},
		// An explicit --argocd-namespace is the default, wherever listed.
		{single: "production", list: "staging,production", singleSet: true, want: []string{"production", "staging"}},
		{single: "argocd", list: "staging,production", singleSet: true, err: "--argocd-namespace=argocd is not one of --argocd-namespaces"},
		{single: "argocd", list: "staging,Prod", err: `"Prod" is not a namespace name`},
		{single: "argocd", list: "staging,staging", err: `"staging" is listed twice`},
		{single: "Argo", singleSet: true, err: `"Argo" is not a namespace name`},
	} {
		got, err := argocdNamespaceList(tc.single, tc.list, tc.singleSet)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%+v: error %v, want one saying %q", tc, err, tc.err)
		case tc.err == "" && err != nil:
			t.Errorf("%+v: %v", tc, err)
		case tc.err == "" && !slices.Equal(got, tc.want):
			t.Errorf("%+v: %v, want %v", tc, got, tc.want)
		}
	}
}

func TestIdentityFlags(t *testing.T) {
	for _, tc := range []struct {
		identity string
		ttl      time.Duration
		err      string
	}{
		{identity: "admin", ttl: 24 * time.Hour},
		{identity: "serviceaccount", ttl: 10 * time.Minute},
		{identity: "sa", ttl: time.Hour, err: `--identity=sa: use "admin" or "serviceaccount"`},
		{identity: "serviceaccount", ttl: time.Minute, err: "no token shorter than 10m0s"},
	} {
		err := errors.Join(identityFlags(tc.identity, tc.ttl)...)
		if (tc.err == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%+v: error %v, want %q", tc, err, tc.err)
		}
	}
}
