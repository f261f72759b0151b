package registration

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"strings"
	"time"

	"github.com/registrar-dev/registrar/pkg/vcluster"
)

// credentialsNotAfter is the earliest moment the credentials of a
// registration stop working: the earliest NotAfter of the client
// certificates and of the CA certificates they carry, and of a bearer
// token's JWT "exp". ok is false when that cannot be known: a bearer token
// that is not a JWT with "exp" (a legacy ServiceAccount token never
// expires by date, but can be revoked at any time), which is never to be
// taken for healthy.
func credentialsNotAfter(c vcluster.Credentials) (notAfter time.Time, ok bool) {
	earliest := func(t time.Time) {
		if notAfter.IsZero() || t.Before(notAfter) {
			notAfter = t
		}
	}
	for _, certs := range [][]byte{c.CertData, c.CAData} {
		for _, cert := range parseCertificates(certs) {
			earliest(cert.NotAfter)
		}
	}
	if len(c.CertData) == 0 && c.Token != "" {
		exp, found := jwtExpiry(c.Token)
		if !found {
			return time.Time{}, false
		}
		earliest(exp)
	}
	return notAfter, !notAfter.IsZero()
}

// parseCertificates returns every certificate in PEM data, skipping what
// does not parse (vcluster.ReadCredentials has validated the data already).
func parseCertificates(data []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return out
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if cert, err := x509.ParseCertificate(block.Bytes); err == nil {
			out = append(out, cert)
		}
	}
}

// jwtExpiry reads the "exp" claim of a JWT without verifying it: the
// registrar only reports when the token stops working, the API server
// decides whether it does.
func jwtExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp *json.Number `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Exp == nil {
		return time.Time{}, false
	}
	secs, err := claims.Exp.Float64()
	if err != nil || secs <= 0 {
		return time.Time{}, false
	}
	return time.Unix(int64(secs), 0).UTC(), true
}
