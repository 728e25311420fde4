package catalogue

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/sdk/manifest"
)

// InstallTarGz installs a plugin uploaded as a .tar.gz. The archive is
// unpacked into a temporary directory under Root and then installed as
// InstallDir does. plugin.json may sit at the archive's top level or in its
// single top-level directory ("posturl-1.4.0/plugin.json").
//
// Refused, with the entry named: absolute names, names with "..", entries
// placed under a symlink, symlinks or hard links leading outside the
// archive, devices, pipes, duplicate entries, and more bytes or entries
// than the catalogue's limits. Files are written through an os.Root, so
// even a trick these checks miss cannot write outside the directory.
func (c *Catalogue) InstallTarGz(ctx context.Context, r io.Reader) (Plugin, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := os.MkdirAll(c.Root, 0o755); err != nil {
		return Plugin{}, fmt.Errorf("install plugin archive: %w", err)
	}
	tmp, err := os.MkdirTemp(c.Root, ".upload-*")
	if err != nil {
		return Plugin{}, fmt.Errorf("install plugin archive: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := c.extract(ctx, r, tmp); err != nil {
		return Plugin{}, err
	}
	top, err := pluginTop(tmp)
	if err != nil {
		return Plugin{}, err
	}
	return c.installDir(ctx, top, "archive")
}

func (c *Catalogue) extract(ctx context.Context, r io.Reader, dir string) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return fault.Field("archive", "is not a gzip-compressed tar archive (.tar.gz): "+err.Error())
	}
	defer gz.Close()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return fmt.Errorf("install plugin archive: %w", err)
	}
	defer root.Close()
	tr := tar.NewReader(gz)
	b := c.budget()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fault.Field("archive", "cannot be read as a tar archive: "+err.Error())
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, err := entryName(hdr.Name)
		if err != nil {
			return err
		}
		if name == "." {
			continue
		}
		if err := b.file("archive", name); err != nil {
			return err
		}
		if err := underSymlink(root, name); err != nil {
			return err
		}
		if err := writeEntry(root, tr, hdr, name, b); err != nil {
			return err
		}
	}
}

// entryName cleans a tar entry name and refuses one that could leave the
// extraction directory.
func entryName(raw string) (string, error) {
	switch {
	case raw == "":
		return "", unsafe("archive", raw, "has an empty name")
	case strings.HasPrefix(raw, "/"):
		return "", unsafe("archive", raw, "has an absolute name")
	case strings.ContainsAny(raw, "\\\x00"):
		return "", unsafe("archive", raw, "has a backslash or NUL in its name")
	}
	for el := range strings.SplitSeq(raw, "/") {
		if el == ".." {
			return "", unsafe("archive", raw, `has ".." in its name`)
		}
	}
	return path.Clean(raw), nil
}

// underSymlink refuses an entry whose parent directories include a
// symlink: writing through it would land somewhere other than its name says.
func underSymlink(root *os.Root, name string) error {
	dir := path.Dir(name)
	if dir == "." {
		return nil
	}
	parts := strings.Split(dir, "/")
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		info, err := root.Lstat(prefix)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return unsafe("archive", name, "cannot be placed: "+err.Error())
		}
		if info.Mode()&fs.ModeSymlink != 0 {
			return unsafe("archive", name, fmt.Sprintf("is placed under the symlink %q", prefix))
		}
	}
	return nil
}

func writeEntry(root *os.Root, tr *tar.Reader, hdr *tar.Header, name string, b *budget) error {
	switch hdr.Typeflag {
	case tar.TypeDir:
		if err := root.MkdirAll(name, 0o755); err != nil {
			return unsafe("archive", name, "cannot be created: "+err.Error())
		}
		return nil
	case tar.TypeReg, tar.TypeRegA: //nolint:staticcheck // old archivers still write TypeRegA
		return writeFile(root, tr, name, fs.FileMode(hdr.Mode), b)
	case tar.TypeSymlink:
		target := hdr.Linkname
		switch {
		case target == "" || strings.HasPrefix(target, "/"):
			return unsafe("archive", name, fmt.Sprintf("is a symlink to the absolute or empty path %q", target))
		case escapes(path.Join(path.Dir(name), target)):
			return unsafe("archive", name, fmt.Sprintf("is a symlink pointing outside the archive (%q)", target))
		}
		if err := mkParent(root, name); err != nil {
			return err
		}
		if err := root.Symlink(target, name); err != nil {
			return unsafe("archive", name, "cannot be created: "+err.Error())
		}
		return nil
	case tar.TypeLink:
		// A hard link names a file earlier in the archive; it is unpacked as
		// a copy so that nothing shares an inode with anything else.
		target, err := entryName(hdr.Linkname)
		if err != nil || target == "." {
			return unsafe("archive", name, fmt.Sprintf("is a hard link pointing outside the archive (%q)", hdr.Linkname))
		}
		info, err := root.Lstat(target)
		if err != nil || !info.Mode().IsRegular() {
			return unsafe("archive", name, fmt.Sprintf("is a hard link to %q, which is not a file unpacked before it", hdr.Linkname))
		}
		in, err := root.Open(target)
		if err != nil {
			return unsafe("archive", name, "cannot be read: "+err.Error())
		}
		defer in.Close()
		return writeFile(root, in, name, info.Mode(), b)
	case tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		return unsafe("archive", name, "is a device or a pipe; plugin archives may hold only files, directories and symlinks")
	default:
		return unsafe("archive", name, fmt.Sprintf("has the unsupported tar entry type %q", hdr.Typeflag))
	}
}

func writeFile(root *os.Root, r io.Reader, name string, mode fs.FileMode, b *budget) error {
	if err := mkParent(root, name); err != nil {
		return err
	}
	perm := 0o644 | (mode.Perm() & 0o111)
	// O_EXCL refuses a duplicate entry and never follows a symlink placed
	// at the name.
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if errors.Is(err, fs.ErrExist) {
		return unsafe("archive", name, "appears twice in the archive")
	}
	if err != nil {
		return unsafe("archive", name, "cannot be created: "+err.Error())
	}
	if err := b.copy(f, r, "archive", name); err != nil {
		f.Close()
		if _, ok := fault.As(err); ok {
			return err
		}
		return fault.Field("archive", fmt.Sprintf("cannot be read as a tar archive: %v", err))
	}
	if err := f.Close(); err != nil {
		return err
	}
	// The umask may have dropped execute bits the author set.
	return root.Chmod(name, perm)
}

func mkParent(root *os.Root, name string) error {
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return unsafe("archive", name, "cannot be placed: "+err.Error())
		}
	}
	return nil
}

func escapes(p string) bool { return p == ".." || strings.HasPrefix(p, "../") }

// pluginTop finds the directory holding plugin.json: the top level, or the
// archive's only top-level directory.
func pluginTop(dir string) (string, error) {
	if _, err := os.Lstat(filepath.Join(dir, manifest.FileName)); err == nil {
		return dir, nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("install plugin archive: %w", err)
	}
	if len(entries) == 1 && entries[0].IsDir() {
		sub := filepath.Join(dir, entries[0].Name())
		if _, err := os.Lstat(filepath.Join(sub, manifest.FileName)); err == nil {
			return sub, nil
		}
	}
	return "", fault.Field("archive", "has no plugin.json at its top level or in its single top-level directory")
}
