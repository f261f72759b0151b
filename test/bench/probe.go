package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/test/fixture"
)

// probeFrontIP is the loopback address where every vcluster of the fleet
// answers the connection probe, on port 443 as a vcluster Service does.
const probeFrontIP = "127.0.0.9"

// probeFront answers the registrar's connection probe for every vcluster of
// a fleet at one address, as each vcluster's API server would: a serving
// certificate for the server name asked for (the fleet's vclusters share
// one CA, fixture.WithPKI), the client certificate verified against that
// CA, and /version, /api and /apis answered. What the probe costs the
// registrar is TLS handshakes and three requests; this is the other end.
type probeFront struct {
	srv      *http.Server
	requests atomic.Int64
}

func startProbeFront(pki *fixture.PKI) (*probeFront, error) {
	ca, err := tls.X509KeyPair(pki.CACert, pki.CAKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(ca.Certificate[0])
	if err != nil {
		return nil, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	var certs sync.Map // server name → *tls.Certificate
	issue := func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if c, ok := certs.Load(hello.ServerName); ok {
			return c.(*tls.Certificate), nil
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(time.Now().UnixNano()),
			Subject:      pkix.Name{CommonName: hello.ServerName},
			DNSNames:     []string{hello.ServerName},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &leafKey.PublicKey, ca.PrivateKey)
		if err != nil {
			return nil, err
		}
		c := &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: leafKey}
		certs.Store(hello.ServerName, c)
		return c, nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	f := &probeFront{}
	answers := map[string]string{
		"/version": `{"major":"1","minor":"37","gitVersion":"v1.37.2"}`,
		"/api":     `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[]}`,
		"/apis":    `{"kind":"APIGroupList","apiVersion":"v1","groups":[]}`,
	}
	f.srv = &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{
			GetCertificate: issue, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert,
			MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"},
		},
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f.requests.Add(1)
			body, ok := answers[r.URL.Path]
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(body))
		}),
		ErrorLog: nil,
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(probeFrontIP, "443"))
	if err != nil {
		return nil, fmt.Errorf("listening on %s:443 (root needed): %w", probeFrontIP, err)
	}
	go func() { _ = f.srv.ServeTLS(ln, "", "") }()
	return f, nil
}

func (f *probeFront) stop() {
	if f != nil {
		_ = f.srv.Close()
	}
}

// resolving returns the command that runs the registrar in a private mount
// namespace whose /etc/hosts maps every vcluster's service DNS name to the
// probe front, so that its probe resolves them with the system resolver,
// as in a cluster; exec keeps the PID, which CPU and RSS are read from.
func (b *bench) resolving(f *fleet) ([]string, error) {
	var hosts strings.Builder
	hosts.WriteString("127.0.0.1 localhost\n")
	for _, vc := range f.vcs {
		fmt.Fprintf(&hosts, "%s %s.%s.svc\n", probeFrontIP, vc.Name, vc.Namespace)
	}
	path := filepath.Join(b.cl.Dir, "probe-hosts")
	if err := os.WriteFile(path, []byte(hosts.String()), 0o644); err != nil {
		return nil, err
	}
	return fixture.WithHosts(path, b.o.registrar), nil
}

// probeStates counts the fleet's registrations by the state their probe
// recorded ("" for none yet), in one list.
func (b *bench) probeStates(argocd string) (map[string]int, error) {
	list, err := b.cl.cs.CoreV1().Secrets(argocd).List(b.ctx, metav1.ListOptions{
		LabelSelector: api.ManagedByLabel + "=" + api.ManagedByValue,
	})
	if err != nil {
		return nil, err
	}
	n := map[string]int{}
	for _, s := range list.Items {
		n[s.Annotations[api.ConnectionStateAnnotation]]++
	}
	return n, nil
}

// probeCost is scenario 9: the connection probe of N registrations whose
// vclusters answer (the probe front), at the chart's --connection-check-interval and
// with the interval shortened to see many rounds in one window.
func (b *bench) probeCost(f *fleet) error {
	n := len(f.vcs)
	interval := b.o.flags.value("--connection-check-interval")
	iv, err := time.ParseDuration(interval)
	if err != nil || iv <= 0 {
		b.t.add(row{scenario: "9 connection probe", params: fmt.Sprintf("N=%d", n), registrar: fmt.Sprintf("not measured: the chart renders --connection-check-interval=%q, which turns the probe off", interval)})
		return nil
	}
	if os.Geteuid() != 0 {
		b.t.add(row{scenario: "9 connection probe", params: fmt.Sprintf("N=%d", n), registrar: "not measured: needs root (port 443 and a private /etc/hosts)"})
		return nil
	}
	front, err := startProbeFront(b.pki)
	if err != nil {
		return err
	}
	b.front = front
	command, err := b.resolving(f)
	if err != nil {
		return err
	}

	// A restart probes each registration that has a recorded state once
	// within the first interval, at a uniformly random time, so that a
	// fleet is not probed in one burst: at a tuned short interval that
	// first round, and the rounds after it, fit in the window.
	tuned := b.o.probeTuned
	startResolving := func(interval string) (*proc, error) {
		b.reg.stop()
		p, err := b.startRegistrarAs(command, mainArgoCD, b.o.concurrency, 0, map[string]string{"--connection-check-interval": interval})
		if err == nil {
			b.reg = p
		}
		return p, err
	}
	before, err := b.reg.memory(3)
	if err != nil {
		return err
	}
	step("scenario 9: registrar restarted where the %d service names resolve, --connection-check-interval=%s (tuned)", n, tuned)
	req0, err := b.cl.requests(b.ctx)
	if err != nil {
		return err
	}
	cpu0, start := b.cpu(nil), time.Now()
	p, err := startResolving(tuned.String())
	if err != nil {
		return err
	}
	// Scenario 4 gave a few vclusters a CA of their own, which the front
	// does not hold: their probe fails TLS, as it should.
	foreignCA := 0
	for _, vc := range f.vcs {
		if vc.PKI != b.pki {
			foreignCA++
		}
	}
	if err := b.waitConnected(n-foreignCA, b.o.timeout); err != nil {
		return err
	}
	round := time.Since(start)
	m, err := p.metrics()
	if err != nil {
		return err
	}
	cpuRound := b.cpu(p)
	if err := b.note("scenario 9, restart and first probe round (tuned interval)", round, req0, cpu0, p); err != nil {
		return err
	}
	b.t.add(row{
		scenario: "9 connection probe",
		params:   fmt.Sprintf("N=%d registered, registrar restarted where the vclusters answer, --connection-check-interval=%s (tuned, to fit a round in the run)", n, tuned),
		registrar: fmt.Sprintf("%d Successful %s after the start (the first round spreads over one interval; %d whose CA scenario 4 rotated fail TLS against the front): %.0f probes, %s each; %.0f writes, one per registration whose state changed (from the unresolvable runs before), each with its Connected event; registrar CPU %.1f s since its start",
			n-foreignCA, secs(round), foreignCA, m["registrar_probe_duration_seconds_count"], probeMean(m), m["registrar_writes_total{operation=probe}"], cpuRound["registrar"]),
	})

	window := func(p *proc) (probes, writes, cpu, apiCPU float64, mem memory, err error) {
		m0, err := p.metrics()
		if err != nil {
			return
		}
		c0 := b.cpu(p)
		time.Sleep(b.o.steady)
		m1, err := p.metrics()
		if err != nil {
			return
		}
		c1 := b.cpu(p)
		mem, err = p.memory(3)
		return m1["registrar_probe_duration_seconds_count"] - m0["registrar_probe_duration_seconds_count"], m1.writes() - m0.writes(),
			c1["registrar"] - c0["registrar"], c1["kube-apiserver"] - c0["kube-apiserver"], mem, err
	}
	step("scenario 9: %s at --connection-check-interval=%s (tuned)", b.o.steady, tuned)
	probes, writes, cpu, apiCPU, mem, err := window(p)
	if err != nil {
		return err
	}
	perProbe := 0.0
	if probes > 0 {
		perProbe = cpu / probes
	}
	b.t.add(row{
		scenario: "9 connection probe",
		params:   fmt.Sprintf("N=%d, %s at --connection-check-interval=%s (tuned, not a default)", n, b.o.steady, tuned),
		registrar: fmt.Sprintf("%.0f probes = %.1f probes/s; registrar CPU %.1f s = %.2f ms per probe, so %.2f CPU s per round of %d; kube-apiserver CPU %.1f s; %.0f writes; RSS %s",
			probes, probes/b.o.steady.Seconds(), cpu, 1000*perProbe, perProbe*float64(n), n, apiCPU, writes, mib(mem.RSS)),
		goal:    "0 writes",
		verdict: verdict(writes == 0),
	})

	step("scenario 9: %s at --connection-check-interval=%s (chart default), after a restart", b.o.steady, interval)
	if p, err = startResolving(interval); err != nil {
		return err
	}
	if _, err := p.settle(b.ctx, float64(n), time.Second, b.o.timeout); err != nil {
		return err
	}
	probes, writes, cpu, _, mem, err = window(p)
	if err != nil {
		return err
	}
	b.t.add(row{
		scenario: "9 connection probe",
		params:   fmt.Sprintf("N=%d, %s at --connection-check-interval=%s (chart default), just after a restart", n, b.o.steady, interval),
		registrar: fmt.Sprintf("%.0f probes (a round of %d spreads over %s: %.1f probes/s on average); %.0f writes; registrar CPU %.2f s; RSS %s (%s vs the registrar whose probes could not resolve the names)",
			probes, n, interval, float64(n)/iv.Seconds(), writes, cpu, mib(mem.RSS), signedMiB(mem.RSS-before.RSS)),
		goal:    "0 writes",
		verdict: verdict(writes == 0),
	})
	return nil
}

// waitProbed waits until n registrations have a recorded probe result.
func (b *bench) waitProbed(n int, timeout time.Duration) error {
	return b.waitProbedBy(b.reg, mainArgoCD, n, timeout)
}

// waitProbedBy waits until n registrations in namespace argocd, written by
// the registrar p, have a recorded probe result.
func (b *bench) waitProbedBy(p *proc, argocd string, n int, timeout time.Duration) error {
	return b.waitProbeStates(p, argocd, "have a probe result", n, timeout, func(st map[string]int) int {
		return st[api.ConnectionSuccessful] + st[api.ConnectionFailed]
	})
}

// waitConnected waits until n registrations record Successful.
func (b *bench) waitConnected(n int, timeout time.Duration) error {
	return b.waitProbeStates(b.reg, mainArgoCD, "are Successful", n, timeout, func(st map[string]int) int {
		return st[api.ConnectionSuccessful]
	})
}

// waitProbeStates waits until count, over the registrations' probe states,
// in namespace argocd reaches n, while the registrar p runs.
func (b *bench) waitProbeStates(p *proc, argocd, what string, n int, timeout time.Duration, count func(map[string]int) int) error {
	deadline := time.Now().Add(timeout)
	for {
		st, err := b.probeStates(argocd)
		if err == nil && count(st) >= n {
			return nil
		}
		if err := p.Alive(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			if err != nil {
				return fmt.Errorf("reading the registrations' probe states: %w", err)
			}
			return fmt.Errorf("%d of %d registrations %s after %s (%d Successful, %d Failed)",
				count(st), n, what, timeout, st[api.ConnectionSuccessful], st[api.ConnectionFailed])
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// probeMean is the mean probe duration, from the histogram's sum and count.
func probeMean(m metrics) string {
	return fmt.Sprintf("%.1f ms (mean)", m.meanMS("registrar_probe_duration_seconds", ""))
}
