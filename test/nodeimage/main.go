// Command nodeimage assembles a container image without a registry, a
// Docker engine or a base image pulled from anywhere: layers are made from
// folders and files on this machine, the image is written as a
// docker-archive tarball, and the real node of `make e2e-node` imports it
// into its containerd (`ctr images import`). go-containerregistry does the
// image format.
//
//	nodeimage -o out.tar -tag NAME:TAG [-tag ...] [-rootfs DIR ...] \
//	  [-file SRC:DST[:MODE] ...] [-dir DST[:MODE] ...] [-symlink DST:TARGET ...] \
//	  [-user U] [-entrypoint '["/bin"]'] [-cmd '["arg"]'] [-env K=V ...] [-workdir D] \
//	  [-stop-signal SIG]
//	nodeimage -o out.tar -tag NAME:TAG -registrar BINARY -version V -commit C
//
// Each -rootfs folder is one layer, in order; the -file, -dir and -symlink
// entries make one layer on top. -registrar builds the registrar's own image
// from its recipe (registrarImage), the one the release's Dockerfiles also
// follow (release_test.go).
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(s string) error { *l = append(*l, s); return nil }

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "nodeimage:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("nodeimage", flag.ContinueOnError)
	var (
		out, user, entrypoint, cmd, workdir   string
		stopSignal                            string
		registrar, version, commit            string
		tags, rootfs, files, dirs, links, env list
	)
	fs.StringVar(&out, "o", "", "docker-archive tarball to write")
	fs.Var(&tags, "tag", "image reference to tag the image with (repeatable)")
	fs.Var(&rootfs, "rootfs", "folder whose content is one layer at / (repeatable, in order)")
	fs.Var(&files, "file", "SRC:DST[:MODE], a file of the top layer (repeatable)")
	fs.Var(&dirs, "dir", "DST[:MODE], an empty folder of the top layer (repeatable)")
	fs.Var(&links, "symlink", "DST:TARGET, a symbolic link of the top layer (repeatable)")
	fs.StringVar(&user, "user", "", "user the image runs as")
	fs.StringVar(&entrypoint, "entrypoint", "", `entrypoint as a JSON array, e.g. '["/registrar"]'`)
	fs.StringVar(&cmd, "cmd", "", "command as a JSON array")
	fs.Var(&env, "env", "K=V of the image's environment (repeatable)")
	fs.StringVar(&workdir, "workdir", "", "working directory")
	fs.StringVar(&stopSignal, "stop-signal", "", "signal that stops the container (a systemd node: SIGRTMIN+3)")
	fs.StringVar(&registrar, "registrar", "", "build the registrar's image around this static binary")
	fs.StringVar(&version, "version", "dev", "with -registrar: the version label")
	fs.StringVar(&commit, "commit", "", "with -registrar: the revision label")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: every input is a flag", fs.Arg(0))
	}
	if out == "" || len(tags) == 0 {
		return fmt.Errorf("-o and at least one -tag are required")
	}

	var spec imageSpec
	if registrar != "" {
		if len(rootfs)+len(files)+len(dirs)+len(links) > 0 || user != "" || entrypoint != "" || cmd != "" {
			return fmt.Errorf("-registrar is a whole recipe: it takes no other layer or config flag")
		}
		spec = registrarImage(registrar, version, commit)
	} else {
		spec = imageSpec{User: user, WorkingDir: workdir, Env: env, RootFS: rootfs, StopSignal: stopSignal}
		for _, f := range files {
			e, err := parseFile(f)
			if err != nil {
				return err
			}
			spec.Files = append(spec.Files, e)
		}
		for _, d := range dirs {
			dst, mode, err := splitMode(d)
			if err != nil {
				return err
			}
			spec.Files = append(spec.Files, entry{Dst: dst, Mode: mode, Dir: true})
		}
		for _, l := range links {
			dst, target, ok := strings.Cut(l, ":")
			if !ok {
				return fmt.Errorf("-symlink %q: want DST:TARGET", l)
			}
			spec.Files = append(spec.Files, entry{Dst: dst, Link: target})
		}
		for flagName, pair := range map[string]struct {
			in  string
			out *[]string
		}{"entrypoint": {entrypoint, &spec.Entrypoint}, "cmd": {cmd, &spec.Cmd}} {
			if pair.in == "" {
				continue
			}
			if err := json.Unmarshal([]byte(pair.in), pair.out); err != nil {
				return fmt.Errorf("-%s %q: want a JSON array of strings: %w", flagName, pair.in, err)
			}
		}
	}
	img, err := spec.build()
	if err != nil {
		return err
	}
	refs := map[name.Reference]v1.Image{}
	for _, t := range tags {
		ref, err := name.NewTag(t)
		if err != nil {
			return fmt.Errorf("-tag %q: %w", t, err)
		}
		refs[ref] = img
	}
	return tarball.MultiRefWriteToFile(out, refs)
}

// imageSpec is an image to assemble: layers from folders, a top layer of
// single entries, and the config a container runtime reads.
type imageSpec struct {
	RootFS     []string
	Files      []entry
	User       string
	Entrypoint []string
	Cmd        []string
	Env        []string
	WorkingDir string
	Labels     map[string]string
	StopSignal string
}

func (s imageSpec) build() (v1.Image, error) {
	img := empty.Image
	var layers []v1.Layer
	for _, dir := range s.RootFS {
		l, err := folderLayer(dir)
		if err != nil {
			return nil, err
		}
		layers = append(layers, l)
	}
	if len(s.Files) > 0 {
		l, err := entriesLayer(s.Files)
		if err != nil {
			return nil, err
		}
		layers = append(layers, l)
	}
	img, err := mutate.AppendLayers(img, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.User = s.User
	cf.Config.Entrypoint = s.Entrypoint
	cf.Config.Cmd = s.Cmd
	cf.Config.Env = append([]string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}, s.Env...)
	cf.Config.WorkingDir = s.WorkingDir
	cf.Config.Labels = s.Labels
	cf.Config.StopSignal = s.StopSignal
	return mutate.ConfigFile(img, cf)
}
