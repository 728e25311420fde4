package catalogue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/sdk/manifest"
)

// maxManifestBytes bounds plugin.json; real ones are a few KiB.
const maxManifestBytes = 1 << 20

// InstallDir installs the plugin in directory src: it reads and validates
// plugin.json, copies the directory into <Root>/<id>/<version>/ and pins
// the copied executable's SHA-256. Symlinks are followed only to files
// inside src and copied as plain files; anything else (links leaving src,
// links to directories, devices, sockets) is refused. Installing an id
// again replaces its files and manifest and keeps its enabled switch (and
// its settings, which live elsewhere).
func (c *Catalogue) InstallDir(ctx context.Context, src string) (Plugin, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.installDir(ctx, src, "dir")
}

// installDir does the work of InstallDir; field names the request field
// that problems are reported against ("dir" or "archive").
func (c *Catalogue) installDir(ctx context.Context, src, field string) (Plugin, error) {
	root, err := filepath.Abs(src)
	if err == nil {
		root, err = filepath.EvalSymlinks(root)
	}
	if err != nil {
		return Plugin{}, fault.Field(field, fmt.Sprintf("cannot read the plugin directory: %v", err))
	}
	m, err := readManifest(root, field)
	if err != nil {
		return Plugin{}, err
	}
	if m.Bundled {
		return Plugin{}, fault.Field("bundled", "a bundled plugin ships inside the hub binary and cannot be installed from files")
	}
	if err := m.CompatibleWith(c.HubVersion); err != nil {
		return Plugin{}, manifestFault(err)
	}
	if err := checkFile(root, m.Executable, "executable", true); err != nil {
		return Plugin{}, err
	}
	for i, r := range m.Routing {
		if err := checkFile(root, r, fmt.Sprintf("routing[%d]", i), false); err != nil {
			return Plugin{}, err
		}
	}
	existing, err := c.get(ctx, c.DB, m.ID)
	switch {
	case err == nil && existing.Bundled:
		return Plugin{}, fault.New(fault.Conflict, "bundled_plugin",
			"A plugin with id %q is bundled with the hub; choose another id.", m.ID)
	case err != nil && !fault.IsKind(err, fault.NotFound):
		return Plugin{}, err
	}

	if err := os.MkdirAll(c.Root, 0o755); err != nil {
		return Plugin{}, fmt.Errorf("install plugin %s: %w", m.ID, err)
	}
	staging, err := os.MkdirTemp(c.Root, ".install-"+m.ID+"-*")
	if err != nil {
		return Plugin{}, fmt.Errorf("install plugin %s: %w", m.ID, err)
	}
	defer os.RemoveAll(staging)
	if err := c.copyTree(ctx, root, staging, field); err != nil {
		return Plugin{}, err
	}
	sum, err := fileSHA256(filepath.Join(staging, filepath.FromSlash(m.Executable)))
	if err != nil {
		return Plugin{}, fmt.Errorf("install plugin %s: checksum: %w", m.ID, err)
	}
	if c.Check != nil {
		if err := c.Check(ctx, m, staging); err != nil {
			return Plugin{}, err
		}
	}

	dir, err := c.pluginDir(m.ID)
	if err != nil {
		return Plugin{}, err
	}
	final := filepath.Join(dir, m.Version)
	restore, err := swapInto(staging, final)
	if err != nil {
		return Plugin{}, fmt.Errorf("install plugin %s: %w", m.ID, err)
	}
	p, err := c.upsertInstalled(ctx, m, final, sum)
	if err != nil {
		restore()
		return Plugin{}, err
	}
	// Older versions are no longer referenced; a process still running one
	// keeps its open executable until the supervisor restarts it.
	removeOthers(dir, m.Version)
	return p, nil
}

func (c *Catalogue) upsertInstalled(ctx context.Context, m manifest.Manifest, dir, sum string) (Plugin, error) {
	doc, err := json.Marshal(m)
	if err != nil {
		return Plugin{}, fmt.Errorf("install plugin %s: encode manifest: %w", m.ID, err)
	}
	now := c.now()
	r := row{
		ID: m.ID, Name: m.Name, Version: m.Version, Manifest: string(doc), Dir: dir,
		Executable: filepath.Join(dir, filepath.FromSlash(m.Executable)), Args: "[]", SHA256: sum,
		State: string(Installed), InstalledAt: now, UpdatedAt: now,
	}
	err = c.DB.RunInTx(ctx, nil, func(ctx context.Context, tx bun.Tx) error {
		_, err := tx.NewInsert().Model(&r).
			On("CONFLICT (id) DO UPDATE").
			Set("name = EXCLUDED.name").
			Set("version = EXCLUDED.version").
			Set("manifest = EXCLUDED.manifest").
			Set("dir = EXCLUDED.dir").
			Set("executable = EXCLUDED.executable").
			Set("args = EXCLUDED.args").
			Set("sha256 = EXCLUDED.sha256").
			Set("state = EXCLUDED.state").
			Set("last_error = ''").
			Set("failures = 0").
			Set("installed_at = EXCLUDED.installed_at").
			Set("updated_at = EXCLUDED.updated_at").
			Where("?TableAlias.bundled = FALSE").
			Returning("NULL").
			Exec(ctx)
		return err
	})
	if err != nil {
		return Plugin{}, fmt.Errorf("install plugin %s: %w", m.ID, err)
	}
	return c.Get(ctx, m.ID)
}

// RegisterBundled records a plugin compiled into the hub, run as
// "<self> plugin run <id>". It runs at every hub start: the checksum is the
// hub binary's own (the hub trusts itself), and a state left over from the
// previous run goes back to installed (disabled stays disabled).
func (c *Catalogue) RegisterBundled(ctx context.Context, manifestJSON []byte, self string) (Plugin, error) {
	m, err := manifest.Parse(manifestJSON)
	if err != nil {
		return Plugin{}, fmt.Errorf("register bundled plugin: %w", manifestFault(err))
	}
	if !m.Bundled {
		return Plugin{}, fmt.Errorf("register bundled plugin %s: its manifest does not say bundled: true", m.ID)
	}
	exe, err := filepath.Abs(self)
	if err != nil {
		return Plugin{}, fmt.Errorf("register bundled plugin %s: %w", m.ID, err)
	}
	sum, err := fileSHA256(exe)
	if err != nil {
		return Plugin{}, fmt.Errorf("register bundled plugin %s: checksum of the hub binary: %w", m.ID, err)
	}
	doc, err := json.Marshal(m)
	if err != nil {
		return Plugin{}, fmt.Errorf("register bundled plugin %s: %w", m.ID, err)
	}
	args, _ := json.Marshal([]string{"plugin", "run", m.ID})
	now := c.now()
	r := row{
		ID: m.ID, Name: m.Name, Version: m.Version, Manifest: string(doc), Executable: exe,
		Args: string(args), SHA256: sum, Bundled: true, State: string(Installed),
		InstalledAt: now, UpdatedAt: now,
	}
	res, err := c.DB.NewInsert().Model(&r).
		On("CONFLICT (id) DO UPDATE").
		Set("name = EXCLUDED.name").
		Set("version = EXCLUDED.version").
		Set("manifest = EXCLUDED.manifest").
		Set("executable = EXCLUDED.executable").
		Set("args = EXCLUDED.args").
		Set("sha256 = EXCLUDED.sha256").
		Set("state = CASE WHEN ?TableAlias.state = 'disabled' THEN 'disabled' ELSE 'installed' END").
		Set("last_error = ''").
		Set("failures = 0").
		Set("updated_at = EXCLUDED.updated_at").
		Where("?TableAlias.bundled = TRUE").
		Returning("NULL").
		Exec(ctx)
	if err != nil {
		return Plugin{}, fmt.Errorf("register bundled plugin %s: %w", m.ID, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return Plugin{}, fault.New(fault.Conflict, "plugin_id_taken",
			"Bundled plugin %s cannot be registered: a plugin installed from files uses the id %q; remove it.", m.Name, m.ID)
	}
	return c.Get(ctx, m.ID)
}

func readManifest(root, field string) (manifest.Manifest, error) {
	path := filepath.Join(root, manifest.FileName)
	info, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return manifest.Manifest{}, fault.Field(field, "has no plugin.json at its top level")
	}
	if err != nil {
		return manifest.Manifest{}, fmt.Errorf("read %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return manifest.Manifest{}, fault.Field(field, "plugin.json must be a regular file")
	}
	if info.Size() > maxManifestBytes {
		return manifest.Manifest{}, fault.Field(field, fmt.Sprintf("plugin.json is %d bytes; at most %d are read", info.Size(), maxManifestBytes))
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return manifest.Manifest{}, fmt.Errorf("read %s: %w", path, err)
	}
	m, err := manifest.Parse(data)
	return m, manifestFault(err)
}

// checkFile requires rel to be a regular file inside root reached without
// any symlink on the way (an intermediate symlinked directory could lead
// anywhere), and executable when exec is set.
func checkFile(root, rel, field string, exec bool) error {
	path := filepath.Join(root, filepath.FromSlash(rel))
	info, err := os.Lstat(path)
	if err != nil {
		return fault.Field(field, fmt.Sprintf("%s does not exist in the plugin directory", rel))
	}
	if real, err := filepath.EvalSymlinks(path); err != nil || real != path {
		return fault.Field(field, fmt.Sprintf("%s must be reached without symlinks", rel))
	}
	if !info.Mode().IsRegular() {
		return fault.Field(field, fmt.Sprintf("%s is not a regular file", rel))
	}
	if exec && info.Mode().Perm()&0o111 == 0 {
		return fault.Field(field, fmt.Sprintf("%s is not executable (chmod +x)", rel))
	}
	return nil
}

// copyTree copies src into the existing empty directory dst.
func (c *Catalogue) copyTree(ctx context.Context, src, dst, field string) error {
	budget := c.budget()
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("copy plugin files: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		name := filepath.ToSlash(rel)
		target := filepath.Join(dst, rel)
		if err := budget.file(field, name); err != nil {
			return err
		}
		switch mode := d.Type(); {
		case mode.IsDir():
			return os.Mkdir(target, 0o755)
		case mode.IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			return copyFile(path, target, info.Mode(), budget, field, name)
		case mode&fs.ModeSymlink != 0:
			real, err := filepath.EvalSymlinks(path)
			if err != nil {
				return unsafe(field, name, "is a symlink that cannot be resolved")
			}
			if !within(src, real) {
				return unsafe(field, name, "is a symlink pointing outside the plugin directory")
			}
			info, err := os.Stat(real)
			if err != nil {
				return err
			}
			if !info.Mode().IsRegular() {
				return unsafe(field, name, "is a symlink to something other than a file; only symlinks to files are followed")
			}
			return copyFile(real, target, info.Mode(), budget, field, name)
		default:
			return unsafe(field, name, "is not a regular file, directory or symlink (devices, pipes and sockets are refused)")
		}
	})
}

func copyFile(from, to string, mode fs.FileMode, b *budget, field, name string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	// Only the owner may write; execute bits are kept as the author set them.
	out, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644|(mode.Perm()&0o111))
	if err != nil {
		return err
	}
	if err := b.copy(out, in, field, name); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// budget bounds what one install writes.
type budget struct {
	bytesLeft, maxBytes int64
	filesLeft, maxFiles int
}

func (c *Catalogue) budget() *budget {
	return &budget{bytesLeft: c.maxBytes(), maxBytes: c.maxBytes(), filesLeft: c.maxFiles(), maxFiles: c.maxFiles()}
}

func (b *budget) file(field, name string) error {
	b.filesLeft--
	if b.filesLeft < 0 {
		return unsafe(field, name, fmt.Sprintf("is one entry too many: a plugin may hold at most %d files and directories", b.maxFiles))
	}
	return nil
}

func (b *budget) copy(w io.Writer, r io.Reader, field, name string) error {
	n, err := io.Copy(w, io.LimitReader(r, b.bytesLeft+1))
	b.bytesLeft -= n
	if err != nil {
		return fmt.Errorf("copy %s: %w", name, err)
	}
	if b.bytesLeft < 0 {
		return unsafe(field, name, fmt.Sprintf("takes the plugin past its size limit of %d bytes", b.maxBytes))
	}
	return nil
}

// unsafe refuses one entry of an upload or directory, naming it.
func unsafe(field, name, why string) error {
	msg := fmt.Sprintf("%q %s.", name, why)
	fe := fault.New(fault.Invalid, "unsafe_plugin_files", "The plugin cannot be installed: %s", msg)
	fe.Fields = map[string]string{field: msg}
	return fe
}

func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// swapInto moves staging to final, setting aside what final held. restore
// puts the old content back (used when the database refuses the install).
func swapInto(staging, final string) (restore func(), err error) {
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, err
	}
	aside := ""
	if _, err := os.Lstat(final); err == nil {
		aside = filepath.Join(filepath.Dir(final), ".old-"+randomHex())
		if err := os.Rename(final, aside); err != nil {
			return nil, err
		}
	}
	if err := os.Rename(staging, final); err != nil {
		if aside != "" {
			os.Rename(aside, final) //nolint:errcheck // best effort; the error below is the one to report
		}
		return nil, err
	}
	return func() {
		os.RemoveAll(final)
		if aside != "" {
			os.Rename(aside, final) //nolint:errcheck // best effort
		}
	}, nil
}

// removeOthers deletes every entry of a plugin's directory but keep.
func removeOthers(dir, keep string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		if e.Name() != keep {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

func randomHex() string {
	b := make([]byte, 8)
	rand.Read(b) //nolint:errcheck // crypto/rand.Read never fails
	return hex.EncodeToString(b)
}
