// Package version reports which build of the registrar is running. A
// release sets the version and commit through the linker, from the Git tag:
//
//	go build -ldflags "-X github.com/registrar-dev/registrar/pkg/version.version=v1.2.3 \
//	  -X github.com/registrar-dev/registrar/pkg/version.commit=$(git rev-parse HEAD)"
//
// hack/make/release.mk and the Dockerfile pass exactly these flags, so the
// binary, the image label and the chart's appVersion all name the same tag.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Set by the linker (-X); empty in a plain `go build`. Unexported so that
// nothing but the linker writes them.
var (
	version string
	commit  string
)

// Info is what `registrar --version` prints.
type Info struct {
	// Version is the release tag (v1.2.3), the module version of a
	// `go install ...@v1.2.3`, or "dev".
	Version string
	// Commit is the Git commit built, or "unknown".
	Commit string
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string
	// Platform is GOOS/GOARCH of the binary.
	Platform string
}

// Get returns the build's version information: the linker's values where
// set, else what the Go toolchain recorded in the binary.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return resolve(version, commit, bi)
}

// resolve is Get without globals, for tests.
func resolve(version, commit string, bi *debug.BuildInfo) Info {
	info := Info{
		Version:   version,
		Commit:    commit,
		GoVersion: runtime.Version(),
		Platform:  runtime.GOOS + "/" + runtime.GOARCH,
	}
	if bi != nil {
		// `go install module/cmd/registrar@v1.2.3` records the module
		// version; a build inside a clone records "(devel)".
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		if info.Commit == "" {
			info.Commit = vcsCommit(bi.Settings)
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	return info
}

// vcsCommit is the revision `go build` stamps from a Git checkout (unless
// -buildvcs=false), marked -dirty when the tree had uncommitted changes.
func vcsCommit(settings []debug.BuildSetting) string {
	var rev string
	var modified bool
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev != "" && modified {
		rev += "-dirty"
	}
	return rev
}

// String is the line `registrar --version` prints, e.g.
// "registrar v1.2.3 (commit 3f1c..., go1.26.8, linux/amd64)".
func (i Info) String() string {
	return fmt.Sprintf("registrar %s (commit %s, %s, %s)", i.Version, i.Commit, i.GoVersion, i.Platform)
}
