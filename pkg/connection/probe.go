// Package connection checks that a registration works: it connects to a
// vcluster as Argo CD will, through the private service URL with TLS
// verified, and classifies what it meets. It also builds the client
// configuration the identity inside a vcluster connects with, making the
// same choices. It knows nothing of the reconciler.
package connection

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/registration"
)

// DialFunc dials a network address, as net.Dialer.DialContext does.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Result is what one connection probe found.
type Result struct {
	// State is api.ConnectionSuccessful or api.ConnectionFailed; the prober
	// reports a failure within a grace window as api.ConnectionPending.
	State string
	// Reason classifies a failure for the metric: dns, tcp, tls,
	// credentials, discovery, timeout or http.
	Reason string
	// Message says in one line what happened and, on failure, what to do.
	// It never holds credential content, and is the same from one probe to
	// the next while nothing changes, so a steady state writes nothing.
	Message string
}

// Failure reasons of a probe, the values of the probe failure metric's label.
const (
	probeDNS         = "dns"
	probeTCP         = "tcp"
	probeTLS         = "tls"
	probeCredentials = "credentials"
	probeDiscovery   = "discovery"
	probeTimeout     = "timeout"
	probeHTTP        = "http"
)

// Reasons are all of them, exported from the start at 0.
var Reasons = []string{probeDNS, probeTCP, probeTLS, probeCredentials, probeDiscovery, probeTimeout, probeHTTP}

// probePaths are requested in order: /version answers even an anonymous
// client, and API discovery is what Argo CD needs next; a vcluster whose
// discovery breaks (an aggregated API gone, say) answers /version and
// still cannot be used.
var probePaths = []string{"/version", "/api", "/apis"}

// Permanent says whether a failure is one no starting vcluster shows (its
// certificate does not verify, or its credentials are refused), which is
// reported at once, never held as pending.
func (r Result) Permanent() bool {
	return r.Reason == probeTLS || r.Reason == probeCredentials
}

// maxProbeBody bounds what is read of an answer.
const maxProbeBody = 4 << 20

// Probe connects to a vcluster exactly as Argo CD will with the
// registration s: its server URL (resolved by dial, the system resolver in
// the binary) and its tlsClientConfig and bearer token. It keeps no
// connection afterwards, follows no redirect and uses no proxy.
func Probe(ctx context.Context, s *corev1.Secret, dial DialFunc, timeout time.Duration) Result {
	server := strings.TrimRight(string(s.Data[registration.ArgoCDServerKey]), "/")
	cfg, err := registration.ConfigOf(s)
	if err != nil {
		return failed(probeHTTP, "the registration's config cannot be read; the registrar rewrites it at the next change")
	}
	tlsCfg := &tls.Config{ServerName: cfg.TLSClientConfig.ServerName, MinVersion: tls.VersionTLS12}
	if ca := cfg.TLSClientConfig.CAData; len(ca) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(ca) {
			return failed(probeTLS, "the registration's CA holds no readable certificate; check the kubeconfig Secret's CA")
		}
		tlsCfg.RootCAs = pool
	}
	if cert, key := cfg.TLSClientConfig.CertData, cfg.TLSClientConfig.KeyData; len(cert) > 0 {
		pair, err := tls.X509KeyPair(cert, key)
		if err != nil {
			return failed(probeCredentials, "the registration's client certificate and key do not form a pair; check the kubeconfig Secret")
		}
		tlsCfg.Certificates = []tls.Certificate{pair}
	}
	if dial == nil {
		dial = (&net.Dialer{Timeout: timeout}).DialContext
	}
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         dial,
		TLSClientConfig:     tlsCfg,
		TLSHandshakeTimeout: timeout,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        1,
	}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	version := ""
	for _, path := range probePaths {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+path, nil)
		if err != nil {
			return failed(probeHTTP, fmt.Sprintf("server %q is not a URL", server))
		}
		req.Header.Set("Accept", "application/json")
		if cfg.BearerToken != "" {
			req.Header.Set("Authorization", "Bearer "+cfg.BearerToken)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return classify(err, server, tlsCfg.ServerName, timeout)
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxProbeBody))
		_ = resp.Body.Close()
		if r, bad := badStatus(resp, path); bad {
			return r
		}
		if path == "/version" {
			var v struct {
				GitVersion string `json:"gitVersion"`
			}
			if json.Unmarshal(body, &v) == nil {
				version = v.GitVersion
			}
		}
	}
	msg := "GET /version, /api and /apis succeeded"
	if version != "" {
		msg += " (Kubernetes " + version + ")"
	}
	return Result{State: api.ConnectionSuccessful, Message: msg}
}

func failed(reason, msg string) Result {
	return Result{State: api.ConnectionFailed, Reason: reason, Message: msg}
}

// badStatus classifies an answer other than 200.
func badStatus(resp *http.Response, path string) (Result, bool) {
	code := resp.StatusCode
	status := fmt.Sprintf("%d %s", code, http.StatusText(code))
	switch {
	case code == http.StatusOK:
		return Result{}, false
	case code == http.StatusUnauthorized:
		return failed(probeCredentials, fmt.Sprintf(
			"credentials rejected: GET %s answered %s; the vcluster does not accept the registration's client certificate or token (was it re-created? its kubeconfig Secret should say)", path, status)), true
	case code == http.StatusForbidden:
		return failed(probeCredentials, fmt.Sprintf(
			"credentials rejected: GET %s answered %s; the registration's identity may not read the vcluster's API", path, status)), true
	case code >= 300 && code < 400:
		return failed(probeHTTP, fmt.Sprintf(
			"GET %s answered %s to %q, which is not followed; the server URL does not lead to a Kubernetes API server", path, status, resp.Header.Get("Location"))), true
	case path == "/version":
		return failed(probeHTTP, fmt.Sprintf("GET /version answered %s; the vcluster's API server is not serving", status)), true
	default:
		return failed(probeDiscovery, fmt.Sprintf(
			"API discovery failed: GET %s answered %s; Argo CD cannot list the vcluster's APIs (check the vcluster's logs and its aggregated APIs)", path, status)), true
	}
}

// classify turns a failed request into a reason and a message a platform
// engineer can act on.
func classify(err error, server, serverName string, timeout time.Duration) Result {
	var (
		dnsErr   *net.DNSError
		hostErr  x509.HostnameError
		authErr  x509.UnknownAuthorityError
		certErr  x509.CertificateInvalidError
		alertErr tls.AlertError
		opErr    *net.OpError
	)
	switch {
	case errors.As(err, &dnsErr) && !dnsErr.IsTimeout:
		return failed(probeDNS, fmt.Sprintf(
			"cannot resolve %s (%s); does the vcluster's Service exist, and does the registrar use the cluster's DNS?", dnsErr.Name, dnsErr.Err))
	case errors.As(err, &hostErr):
		return failed(probeTLS, fmt.Sprintf(
			"TLS: the vcluster's certificate does not name %q, it names %s; add %q to the vcluster's controlPlane.proxy.extraSANs, or set annotation %s to one of those names",
			serverName, certNames(hostErr.Certificate), serverName, api.TLSServerNameAnnotation))
	case errors.As(err, &authErr):
		return failed(probeTLS,
			"TLS: the vcluster's certificate is not signed by the CA in the registration (unknown authority); the kubeconfig Secret may hold an old CA: re-export it, or restart the vcluster after a CA rotation")
	case errors.As(err, &certErr):
		return failed(probeTLS, fmt.Sprintf("TLS: the vcluster's certificate is not valid: %s", certErr.Error()))
	case errors.As(err, &alertErr):
		return failed(probeCredentials, fmt.Sprintf(
			"credentials rejected during the TLS handshake (%s); the vcluster does not accept the registration's client certificate", alertErr.Error()))
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return failed(probeTimeout, fmt.Sprintf(
			"no answer from %s within %s; is the vcluster running, and does a NetworkPolicy let the registrar reach it?", server, timeout))
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return failed(probeTCP, fmt.Sprintf(
			"cannot connect to %s (%s); is the vcluster running and its Service's port right?", server, opErr.Err))
	case errors.As(err, &opErr) && opErr.Op == "remote error":
		return failed(probeCredentials, fmt.Sprintf(
			"credentials rejected during the TLS handshake (%s)", opErr.Err))
	default:
		return failed(probeTCP, fmt.Sprintf("connecting to %s failed: %s", server, unwrapURL(err)))
	}
}

func isTimeout(err error) bool {
	var t interface{ Timeout() bool }
	return errors.As(err, &t) && t.Timeout()
}

// unwrapURL drops the "Get <url>:" prefix of an HTTP client error.
func unwrapURL(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}

// certNames lists the names a serving certificate carries.
func certNames(c *x509.Certificate) string {
	if c == nil {
		return "none"
	}
	names := append([]string{}, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}
