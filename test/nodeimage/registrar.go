package main

// The registrar's image: its static binary at /registrar, run as distroless'
// nonroot user by number (65532, which the chart's runAsUser names too), the
// binary as entrypoint, and the OCI labels the release sets. The release's
// Dockerfile (distroless) and Dockerfile.offline (scratch) build the same
// layout; release_test.go holds them to it.
const (
	registrarPath = "/registrar"
	registrarUser = "65532:65532"
)

func registrarImage(binary, version, commit string) imageSpec {
	return imageSpec{
		Files:      []entry{{Src: binary, Dst: registrarPath, Mode: 0o755}},
		User:       registrarUser,
		Entrypoint: []string{registrarPath},
		Labels: map[string]string{
			"org.opencontainers.image.title":       "registrar",
			"org.opencontainers.image.description": "Registers every vcluster of a host cluster in Argo CD as a declarative cluster Secret.",
			"org.opencontainers.image.source":      "https://github.com/registrar-dev/registrar",
			"org.opencontainers.image.version":     version,
			"org.opencontainers.image.revision":    commit,
		},
	}
}
