package main

import (
	"fmt"
	"net"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// The checks of flag values: each returns nil or an error naming the flag,
// the value and the form expected.

// notNegative refuses a duration below 0, with an example of a good one.
func notNegative(flag string, d time.Duration, example string) error {
	if d < 0 {
		return fmt.Errorf("--%s=%s: use 0 or more, e.g. %s", flag, d, example)
	}
	return nil
}

// positive refuses a duration of 0 or less.
func positive(flag string, d time.Duration, example string) error {
	if d <= 0 {
		return fmt.Errorf("--%s=%s: use a duration more than 0, e.g. %s", flag, d, example)
	}
	return nil
}

// atLeastOne refuses a count below 1.
func atLeastOne(flag string, n int) error {
	if n < 1 {
		return fmt.Errorf("--%s=%d: use 1 or more", flag, n)
	}
	return nil
}

// namespaceName refuses what cannot name a namespace.
func namespaceName(flag, ns string) error {
	if msgs := validation.IsDNS1123Label(ns); len(msgs) > 0 {
		return fmt.Errorf("--%s: %q is not a namespace name; use a DNS label: at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit, e.g. argocd", flag, ns)
	}
	return nil
}

// leaseChecks refuse what cannot name the leader election Lease; an
// empty namespace is the default one.
func leaseChecks(namespace, id string) []error {
	var errs []error
	if namespace != "" {
		if err := namespaceName("leader-election-namespace", namespace); err != nil {
			errs = append(errs, err)
		}
	}
	if msgs := validation.IsDNS1123Subdomain(id); len(msgs) > 0 {
		errs = append(errs, fmt.Errorf("--leader-election-id=%s: not a Lease name; use lower-case letters, digits, '-' and '.', e.g. registrar-leader", id))
	}
	return errs
}

// listenAddress refuses what cannot be listened on: "host:port", ":port",
// or "0" where 0 disables the endpoint.
func listenAddress(flag, addr string, zeroDisables bool) error {
	if zeroDisables && addr == "0" {
		return nil
	}
	if _, _, err := net.SplitHostPort(addr); err != nil {
		also := ""
		if zeroDisables {
			also = ", or 0 to turn it off"
		}
		return fmt.Errorf("--%s=%s: use host:port or :port, e.g. :8081%s", flag, addr, also)
	}
	return nil
}
