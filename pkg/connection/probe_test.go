package connection

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/registrar-dev/registrar/pkg/api"
	"github.com/registrar-dev/registrar/pkg/registration"
	"github.com/registrar-dev/registrar/pkg/vcluster"
	"github.com/registrar-dev/registrar/test/fixture"
)

// apiStandIn is a TLS server with a vcluster's serving certificate that
// answers the probe's paths the way kube-apiserver does, and trusts only
// client certificates of clientCA. answer overrides the answer to a path.
type apiStandIn struct {
	*httptest.Server
	answer map[string]int
	token  string
	delay  time.Duration
	open   atomic.Int64
}

func startAPIStandIn(t *testing.T, vc *fixture.VCluster, clientCA []byte) *apiStandIn {
	t.Helper()
	s := &apiStandIn{answer: map[string]int{}}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.delay > 0 {
			time.Sleep(s.delay)
		}
		if len(r.TLS.PeerCertificates) == 0 && (s.token == "" || r.Header.Get("Authorization") != "Bearer "+s.token) {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if code, ok := s.answer[r.URL.Path]; ok {
			if code == http.StatusFound {
				w.Header().Set("Location", "https://elsewhere.example/")
			}
			w.WriteHeader(code)
			return
		}
		switch r.URL.Path {
		case "/version":
			_, _ = w.Write([]byte(`{"major":"1","minor":"37","gitVersion":"v1.37.2"}`))
		case "/api", "/apis":
			_, _ = w.Write([]byte(`{}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	pair, err := tls.X509KeyPair(vc.PKI.ServingCert, vc.PKI.ServingKey)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(clientCA)
	s.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven}
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.open.Add(1)
		case http.StateClosed, http.StateHijacked:
			s.open.Add(-1)
		}
	}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

// dialTo reaches addr whatever the registration's server is, standing in
// for the cluster's DNS; it fails the test if the probe dials anything but
// the service address.
func dialTo(t *testing.T, addr, want string) DialFunc {
	return func(ctx context.Context, network, got string) (net.Conn, error) {
		if got != want {
			t.Errorf("probe dialled %s, want the service address %s", got, want)
		}
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
}

// sources are the host-cluster objects of a healthy vcluster.
func sources(t *testing.T) (registration.Sources, *fixture.VCluster) {
	vc, secret := fixture.Sandbox(t)
	return registration.Sources{Workload: vc.StatefulSet(), Kind: "StatefulSet", Service: vc.Service(), KubeconfigSecret: secret}, vc
}

var opts = registration.BuildOptions{ArgoCDNamespace: "argocd"}

// registrationOf builds the registration of vc as the registrar writes it.
func registrationOf(t *testing.T, src registration.Sources) *corev1.Secret {
	t.Helper()
	s, err := registration.Build(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestProbeClassifiesWhatArgoCDWouldMeet(t *testing.T) {
	const service = "sandbox.vcluster-sandbox.svc:443"
	cases := []struct {
		name string
		// shape changes the server or the registration before the probe.
		shape      func(*testing.T, *apiStandIn, *registration.Sources, *fixture.VCluster)
		dial       func(*testing.T, *apiStandIn) DialFunc
		state      string
		reason     string
		message    []string
		timeoutArg time.Duration
	}{
		{
			name:    "connects with the registration's CA, server name and client certificate",
			state:   api.ConnectionSuccessful,
			message: []string{"/version, /api and /apis succeeded", "Kubernetes v1.37.2"},
		},
		{
			name: "discovery failing while /version answers",
			shape: func(_ *testing.T, s *apiStandIn, _ *registration.Sources, _ *fixture.VCluster) {
				s.answer["/apis"] = 503
			},
			state:   api.ConnectionFailed,
			reason:  probeDiscovery,
			message: []string{"API discovery failed", "GET /apis", "503 Service Unavailable"},
		},
		{
			name: "credentials answered 401",
			shape: func(_ *testing.T, s *apiStandIn, _ *registration.Sources, _ *fixture.VCluster) {
				s.answer["/version"] = 401
			},
			state:   api.ConnectionFailed,
			reason:  probeCredentials,
			message: []string{"credentials rejected", "401 Unauthorized"},
		},
		{
			name: "identity not allowed discovery",
			shape: func(_ *testing.T, s *apiStandIn, _ *registration.Sources, _ *fixture.VCluster) {
				s.answer["/api"] = 403
			},
			state:   api.ConnectionFailed,
			reason:  probeCredentials,
			message: []string{"credentials rejected", "GET /api", "403 Forbidden"},
		},
		{
			name: "redirect not followed",
			shape: func(_ *testing.T, s *apiStandIn, _ *registration.Sources, _ *fixture.VCluster) {
				s.answer["/version"] = http.StatusFound
			},
			state:   api.ConnectionFailed,
			reason:  probeHTTP,
			message: []string{"302 Found", "elsewhere.example", "not followed"},
		},
		{
			name: "serving certificate signed by another CA",
			shape: func(t *testing.T, _ *apiStandIn, src *registration.Sources, vc *fixture.VCluster) {
				other, err := fixture.NewPKI("other", fixture.ServingSANs("sandbox", "vcluster-sandbox"))
				if err != nil {
					t.Fatal(err)
				}
				src.KubeconfigSecret.Data[vcluster.CertificateAuthorityKey] = other.CACert
				src.KubeconfigSecret.Data[vcluster.KubeconfigKey] = nil
				delete(src.KubeconfigSecret.Data, vcluster.KubeconfigKey)
			},
			state:   api.ConnectionFailed,
			reason:  probeTLS,
			message: []string{"not signed by the CA in the registration"},
		},
		{
			name: "certificate lacks the server name",
			shape: func(_ *testing.T, _ *apiStandIn, src *registration.Sources, _ *fixture.VCluster) {
				src.Workload.SetAnnotations(map[string]string{api.TLSServerNameAnnotation: "sandbox.example.com"})
			},
			state:  api.ConnectionFailed,
			reason: probeTLS,
			message: []string{`does not name "sandbox.example.com"`, "sandbox.vcluster-sandbox", "127.0.0.1",
				"controlPlane.proxy.extraSANs", api.TLSServerNameAnnotation},
		},
		{
			name: "client certificate of another CA",
			shape: func(t *testing.T, s *apiStandIn, _ *registration.Sources, _ *fixture.VCluster) {
				other, err := fixture.NewPKI("other", nil)
				if err != nil {
					t.Fatal(err)
				}
				pool := x509.NewCertPool()
				pool.AppendCertsFromPEM(other.CACert)
				s.TLS.ClientCAs = pool
			},
			// A Go client sends no certificate the server's list of
			// acceptable CAs excludes, as Argo CD's would not: the server
			// sees an anonymous client.
			state:   api.ConnectionFailed,
			reason:  probeCredentials,
			message: []string{"credentials rejected", "401 Unauthorized", "client certificate"},
		},
		{
			name: "nothing listening",
			dial: func(t *testing.T, _ *apiStandIn) DialFunc {
				return dialTo(t, fixture.FreeAddr(t), service)
			},
			state:   api.ConnectionFailed,
			reason:  probeTCP,
			message: []string{"cannot connect to https://sandbox.vcluster-sandbox.svc", "connection refused"},
		},
		{
			name: "service name not resolvable",
			dial: func(*testing.T, *apiStandIn) DialFunc {
				return func(context.Context, string, string) (net.Conn, error) {
					return nil, &net.OpError{Op: "dial", Net: "tcp", Err: &net.DNSError{
						Err: "no such host", Name: "sandbox.vcluster-sandbox.svc", IsNotFound: true}}
				}
			},
			state:   api.ConnectionFailed,
			reason:  probeDNS,
			message: []string{"cannot resolve sandbox.vcluster-sandbox.svc", "no such host", "Service exist"},
		},
		{
			name: "no answer in time",
			shape: func(_ *testing.T, s *apiStandIn, _ *registration.Sources, _ *fixture.VCluster) {
				s.delay = 2 * time.Second
			},
			timeoutArg: 300 * time.Millisecond,
			state:      api.ConnectionFailed,
			reason:     probeTimeout,
			message:    []string{"no answer from https://sandbox.vcluster-sandbox.svc within 300ms"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src, vc := sources(t)
			server := startAPIStandIn(t, vc, vc.PKI.CACert)
			if tc.shape != nil {
				tc.shape(t, server, &src, vc)
			}
			dial := dialTo(t, server.Listener.Addr().String(), service)
			if tc.dial != nil {
				dial = tc.dial(t, server)
			}
			timeout := tc.timeoutArg
			if timeout == 0 {
				timeout = 5 * time.Second
			}
			res := Probe(context.Background(), registrationOf(t, src), dial, timeout)
			if res.State != tc.state || res.Reason != tc.reason {
				t.Fatalf("got %s (%s): %s; want %s (%s)", res.State, res.Reason, res.Message, tc.state, tc.reason)
			}
			for _, want := range tc.message {
				if !strings.Contains(res.Message, want) {
					t.Errorf("message %q lacks %q", res.Message, want)
				}
			}
			if strings.Contains(res.Message, "\n") {
				t.Errorf("message is more than one line: %q", res.Message)
			}
			if vc.Leaks(res.Message) {
				t.Errorf("message repeats secret content: %q", res.Message)
			}
		})
	}
}

func TestProbeSendsTheBearerTokenOfATokenRegistration(t *testing.T) {
	src, vc := sources(t)
	server := startAPIStandIn(t, vc, vc.PKI.CACert)
	server.token = "token-of-argocd-manager"
	reg := registrationOf(t, src)
	var cfg registration.ClusterConfig
	if err := json.Unmarshal(reg.Data[registration.ArgoCDConfigKey], &cfg); err != nil {
		t.Fatal(err)
	}
	cfg.TLSClientConfig.CertData, cfg.TLSClientConfig.KeyData = nil, nil
	for _, token := range []string{"wrong", server.token} {
		cfg.BearerToken = token
		reg.Data[registration.ArgoCDConfigKey], _ = json.Marshal(cfg)
		res := Probe(context.Background(), reg, dialTo(t, server.Listener.Addr().String(), "sandbox.vcluster-sandbox.svc:443"), 5*time.Second)
		want := api.ConnectionFailed
		if token == server.token {
			want = api.ConnectionSuccessful
		}
		if res.State != want {
			t.Errorf("token %q: got %s: %s, want %s", token, res.State, res.Message, want)
		}
		if strings.Contains(res.Message, token) {
			t.Errorf("message repeats the token: %q", res.Message)
		}
	}
}

func TestProbeUsesNoProxyAndKeepsNoConnection(t *testing.T) {
	src, vc := sources(t)
	server := startAPIStandIn(t, vc, vc.PKI.CACert)
	// A proxy that does not exist: a probe going through it would fail.
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	res := Probe(context.Background(), registrationOf(t, src),
		dialTo(t, server.Listener.Addr().String(), "sandbox.vcluster-sandbox.svc:443"), 5*time.Second)
	if res.State != api.ConnectionSuccessful {
		t.Fatalf("probe failed with a proxy in the environment: %s", res.Message)
	}
	err := fixture.Poll(context.Background(), "the probe's connections are closed",
		fixture.Succeeds(func() error {
			if n := server.open.Load(); n != 0 {
				return &net.AddrError{Err: "connections still open", Addr: server.Listener.Addr().String()}
			}
			return nil
		}), fixture.Within(5*time.Second), fixture.Every(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
}
