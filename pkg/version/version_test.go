package version

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	tests := []struct {
		name            string
		version, commit string
		bi              *debug.BuildInfo
		wantVersion     string
		wantCommit      string
	}{
		{"linker flags win", "v1.2.3", "abc", &debug.BuildInfo{Main: debug.Module{Version: "v9.9.9"}, Settings: vcs("def", "false")}, "v1.2.3", "abc"},
		{"go install of a tag", "", "", &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}}, "v1.4.0", "unknown"},
		{"build in a clean clone", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("0123", "false")}, "dev", "0123"},
		{"build in a dirty clone", "", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("0123", "true")}, "dev", "0123-dirty"},
		{"no build info", "", "", nil, "dev", "unknown"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := resolve(tt.version, tt.commit, tt.bi)
			if got.Version != tt.wantVersion || got.Commit != tt.wantCommit {
				t.Errorf("version %q commit %q, want %q %q", got.Version, got.Commit, tt.wantVersion, tt.wantCommit)
			}
			if got.GoVersion != runtime.Version() || got.Platform != runtime.GOOS+"/"+runtime.GOARCH {
				t.Errorf("go %q platform %q", got.GoVersion, got.Platform)
			}
		})
	}
}

func TestString(t *testing.T) {
	got := Info{Version: "v1.2.3", Commit: "abc", GoVersion: "go1.26.8", Platform: "linux/arm64"}.String()
	if want := "registrar v1.2.3 (commit abc, go1.26.8, linux/arm64)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// The linker ignores -X for a symbol that does not exist, so a renamed
// variable would silently ship every release as "dev". The release build
// and the Dockerfile must name exactly the two variables, and a program
// linked with -X on them must print the values given.
const pkgPath = "github.com/registrar-dev/registrar/pkg/version"

func TestReleaseBuildsSetBothVariables(t *testing.T) {
	xflag := regexp.MustCompile(`-X[ =]([^ =]+)=`)
	for _, file := range []string{"../../Dockerfile", "../../hack/make/release.mk"} {
		raw, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var syms []string
		for _, m := range xflag.FindAllStringSubmatch(string(raw), -1) {
			// release.mk spells this package's path as a variable.
			syms = append(syms, strings.ReplaceAll(m[1], "$(VERSION_PKG)", pkgPath))
		}
		slices.Sort(syms)
		syms = slices.Compact(syms)
		if want := []string{pkgPath + ".commit", pkgPath + ".version"}; !slices.Equal(syms, want) {
			t.Errorf("%s: -X flags set %q, want %q", file, syms, want)
		}
	}
}

func TestLinkerSetsVersionAndCommit(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "printversion")
	ldflags := "-X " + pkgPath + ".version=v7.8.9-rc.1 -X " + pkgPath + ".commit=feedbeef"
	out, err := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, "./testdata/printversion").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err = exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "registrar v7.8.9-rc.1 (commit feedbeef, " + runtime.Version() + ", " + runtime.GOOS + "/" + runtime.GOARCH + ")"
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("linked binary printed %q, want %q", got, want)
	}
}
