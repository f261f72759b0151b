package oneshot

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"

	"github.com/registrar-dev/registrar/pkg/registration"
)

// Redacted replaces every value a report must not show.
const Redacted = "REDACTED"

// plainKeys are the data keys of an Argo CD cluster Secret that hold no
// secret: names, the server URL, scoping. Every other key is redacted.
var plainKeys = map[string]bool{
	registration.ArgoCDNameKey:          true,
	registration.ArgoCDServerKey:        true,
	registration.ArgoCDProjectKey:       true,
	registration.ArgoCDNamespacesKey:    true,
	registration.ArgoCDClusterResources: true,
	registration.ArgoCDShardKey:         true,
}

// plainConfig are the fields of the config key's JSON (Argo CD's
// ClusterConfig, pkg/apis/application/v1alpha1/types.go in argo-cd) shown
// as they are, by path; every other value in it (bearerToken, caData,
// certData, keyData, and whatever a later version adds) is redacted.
var plainConfig = map[string]bool{
	"tlsClientConfig.serverName": true,
	"tlsClientConfig.insecure":   true,
}

// Redact returns a copy of an Argo CD cluster Secret fit to print: its
// data as readable stringData, with every value that is not known to be
// plain replaced by Redacted. What is redacted is chosen by allowing, not
// by denying, so a key added later is hidden until it is listed here.
func Redact(s *corev1.Secret) *corev1.Secret {
	out := &corev1.Secret{Type: s.Type}
	out.APIVersion, out.Kind = "v1", "Secret"
	out.Name, out.Namespace = s.Name, s.Namespace
	out.Labels, out.Annotations = s.Labels, s.Annotations
	out.StringData = make(map[string]string, len(s.Data)+len(s.StringData))
	for k, v := range s.Data {
		out.StringData[k] = redactValue(k, v)
	}
	for k, v := range s.StringData {
		out.StringData[k] = redactValue(k, []byte(v))
	}
	return out
}

func redactValue(key string, v []byte) string {
	switch {
	case plainKeys[key]:
		return string(v)
	case key == registration.ArgoCDConfigKey:
		var cfg any
		if err := json.Unmarshal(v, &cfg); err != nil {
			return Redacted
		}
		b, err := json.Marshal(redactJSON("", cfg))
		if err != nil {
			return Redacted
		}
		return string(b)
	}
	return Redacted
}

// redactJSON keeps the structure of v and the leaves plainConfig lists.
func redactJSON(path string, v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			p := k
			if path != "" {
				p = path + "." + k
			}
			out[k] = redactJSON(p, e)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = redactJSON(path+"[]", e)
		}
		return out
	}
	if plainConfig[path] {
		return v
	}
	return Redacted
}
