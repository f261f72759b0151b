package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// The image the real node runs must be the image the release publishes: the
// final stage of each Dockerfile copies the binary to the same path, runs as
// the same user and has the same entrypoint and labels as registrarImage.
func TestRegistrarImageMatchesTheReleaseDockerfiles(t *testing.T) {
	spec := registrarImage("bin/registrar", "${VERSION}", "${COMMIT}")
	for _, name := range []string{"Dockerfile", "Dockerfile.offline"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("..", "..", name))
			if err != nil {
				t.Fatal(err)
			}
			final := finalStage(string(data))
			if got := instruction(final, "USER"); got != spec.User {
				t.Errorf("%s runs as USER %q, the node's image as %q", name, got, spec.User)
			}
			if got, want := instruction(final, "ENTRYPOINT"), `["`+strings.Join(spec.Entrypoint, `", "`)+`"]`; got != want {
				t.Errorf("%s has ENTRYPOINT %s, the node's image %s", name, got, want)
			}
			copyTo := regexp.MustCompile(`(?m)^COPY .* (\S+)$`).FindAllStringSubmatch(final, -1)
			if len(copyTo) != 1 || copyTo[0][1] != registrarPath {
				t.Errorf("%s's final stage copies %v, want the binary alone at %s", name, copyTo, registrarPath)
			}
			for k, v := range spec.Labels {
				if !strings.Contains(final, k+`="`+v+`"`) {
					t.Errorf("%s lacks label %s=%q that the node's image has", name, k, v)
				}
			}
		})
	}
}

// finalStage is the Dockerfile from its last FROM on, continuation lines
// joined.
func finalStage(dockerfile string) string {
	dockerfile = regexp.MustCompile(`\\\n\s*`).ReplaceAllString(dockerfile, " ")
	i := strings.LastIndex(dockerfile, "\nFROM ")
	return dockerfile[i+1:]
}

func instruction(stage, keyword string) string {
	m := regexp.MustCompile(`(?m)^` + keyword + ` (.*)$`).FindStringSubmatch(stage)
	if m == nil {
		return ""
	}
	return strings.TrimSpace(m[1])
}
