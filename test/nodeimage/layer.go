package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// entry is one path of an image's top layer: a file copied from SRC, an
// empty folder, or a symbolic link.
type entry struct {
	Src, Dst string
	Mode     os.FileMode
	Dir      bool
	Link     string
}

func parseFile(s string) (entry, error) {
	src, rest, ok := strings.Cut(s, ":")
	if !ok || src == "" || rest == "" {
		return entry{}, fmt.Errorf("-file %q: want SRC:DST[:MODE]", s)
	}
	dst, mode, err := splitMode(rest)
	if err != nil {
		return entry{}, err
	}
	if mode == 0 {
		fi, err := os.Stat(src)
		if err != nil {
			return entry{}, fmt.Errorf("-file %q: %w", s, err)
		}
		mode = fi.Mode().Perm()
	}
	return entry{Src: src, Dst: dst, Mode: mode}, nil
}

// splitMode splits "PATH[:MODE]", MODE octal (0755); 0 when absent.
func splitMode(s string) (string, os.FileMode, error) {
	p, m, ok := strings.Cut(s, ":")
	if !ok {
		return p, 0, nil
	}
	n, err := strconv.ParseUint(m, 8, 32)
	if err != nil {
		return "", 0, fmt.Errorf("%q: mode %q is not octal like 0755", s, m)
	}
	return p, os.FileMode(n), nil
}

// layer wraps a tar stream written by write as a layer, gzip at its
// fastest: the layers are written once and read once, on this machine.
func layer(write func(*tar.Writer) error) (v1.Layer, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := write(tw); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	data := buf.Bytes()
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	}, tarball.WithCompressionLevel(gzip.BestSpeed))
}

// entriesLayer is the top layer: parents of every entry are made as
// folders (0755) so that a runtime never has to invent them.
func entriesLayer(entries []entry) (v1.Layer, error) {
	return layer(func(tw *tar.Writer) error {
		made := map[string]bool{}
		parents := func(p string) error {
			var chain []string
			for d := filepath.Dir(p); d != "/" && d != "." && !made[d]; d = filepath.Dir(d) {
				chain = append(chain, d)
			}
			for i := len(chain) - 1; i >= 0; i-- {
				made[chain[i]] = true
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: rel(chain[i]) + "/", Mode: 0o755}); err != nil {
					return err
				}
			}
			return nil
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.Dst, "/") {
				return fmt.Errorf("%q: destinations are absolute paths", e.Dst)
			}
			if err := parents(e.Dst); err != nil {
				return err
			}
			switch {
			case e.Dir:
				made[e.Dst] = true
				mode := e.Mode
				if mode == 0 {
					mode = 0o755
				}
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: rel(e.Dst) + "/", Mode: int64(mode)}); err != nil {
					return err
				}
			case e.Link != "":
				if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: rel(e.Dst), Linkname: e.Link, Mode: 0o777}); err != nil {
					return err
				}
			default:
				if err := copyFile(tw, e.Src, rel(e.Dst), e.Mode, 0, 0); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// folderLayer is dir's content as a layer at /, owners and modes kept.
// Device nodes are left out: a container gets its /dev from its runtime.
func folderLayer(dir string) (v1.Layer, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != dir {
			paths = append(paths, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(paths)
	return layer(func(tw *tar.Writer) error {
		for _, p := range paths {
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			r, _ := filepath.Rel(dir, p)
			st, _ := fi.Sys().(*syscall.Stat_t)
			uid, gid := 0, 0
			if st != nil {
				uid, gid = int(st.Uid), int(st.Gid)
			}
			mode := int64(fi.Mode().Perm())
			if fi.Mode()&os.ModeSetuid != 0 {
				mode |= 0o4000
			}
			if fi.Mode()&os.ModeSetgid != 0 {
				mode |= 0o2000
			}
			if fi.Mode()&os.ModeSticky != 0 {
				mode |= 0o1000
			}
			switch {
			case fi.IsDir():
				err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: r + "/", Mode: mode, Uid: uid, Gid: gid})
			case fi.Mode()&os.ModeSymlink != 0:
				target, lerr := os.Readlink(p)
				if lerr != nil {
					return lerr
				}
				err = tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: r, Linkname: target, Mode: 0o777, Uid: uid, Gid: gid})
			case fi.Mode().IsRegular():
				err = copyFile(tw, p, r, os.FileMode(mode), uid, gid)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		return nil
	})
}

func copyFile(tw *tar.Writer, src, name string, mode os.FileMode, uid, gid int) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: fi.Size(), Mode: int64(mode), Uid: uid, Gid: gid}); err != nil {
		return err
	}
	_, err = io.Copy(tw, f)
	return err
}

func rel(p string) string { return strings.TrimPrefix(p, "/") }
