package catalogue

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/sdk"
	"github.com/tetherhq/tether/sdk/manifest"
)

// State is where a plugin is in its life, as the admin centre shows it.
type State string

const (
	Installed State = "installed" // files in place, not started (yet)
	Starting  State = "starting"
	Running   State = "running"
	Failed    State = "failed" // crashed or failed its checks; see LastError
	Stopped   State = "stopped"
	Disabled  State = "disabled"
)

var states = []State{Installed, Starting, Running, Failed, Stopped, Disabled}

// Plugin is one catalogue entry.
type Plugin struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Version  string            `json:"version"`
	Manifest manifest.Manifest `json:"manifest"`
	// Dir is <root>/<id>/<version>; empty for bundled plugins.
	Dir string `json:"dir,omitempty"`
	// Executable is the absolute path to run with Args.
	Executable string   `json:"executable"`
	Args       []string `json:"args"`
	// SHA256 is the executable's checksum pinned at install (hex).
	SHA256      string    `json:"sha256"`
	Bundled     bool      `json:"bundled"`
	Enabled     bool      `json:"enabled"`
	State       State     `json:"state"`
	LastError   string    `json:"last_error,omitempty"`
	Failures    int       `json:"failures"`
	InstalledAt time.Time `json:"installed_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// Catalogue reads and writes the plugins table and the files under Root.
type Catalogue struct {
	DB *bun.DB
	// Root is the plugins directory: each plugin lives in <Root>/<id>/<version>.
	Root string
	// HubVersion is checked against each manifest's min_hub_version; "" or
	// "dev" accepts every plugin.
	HubVersion string
	Now        func() time.Time // nil means time.Now
	// Limits on what one install may unpack or copy; 0 means the default.
	MaxBytes int64
	MaxFiles int
	// Check, if set, inspects an install's staged copy (dir is laid out as
	// the plugin directory, with the manifest m) before it replaces the
	// installed version: an error refuses the install as it is and leaves
	// the installed version, files and row, in place. The plugin host
	// validates rule packs through it.
	Check func(ctx context.Context, m manifest.Manifest, dir string) error

	// mu serialises installs and removals within this process so that two
	// uploads of one plugin do not interleave their file moves.
	mu sync.Mutex
}

// Defaults for Catalogue.MaxBytes and MaxFiles.
const (
	DefaultMaxBytes = 512 << 20
	DefaultMaxFiles = 10_000
)

type row struct {
	bun.BaseModel `bun:"table:plugins"`

	ID          string    `bun:"id,pk"`
	Name        string    `bun:"name,notnull"`
	Version     string    `bun:"version,notnull"`
	Manifest    string    `bun:"manifest,notnull"`
	Dir         string    `bun:"dir,notnull"`
	Executable  string    `bun:"executable,notnull"`
	Args        string    `bun:"args,notnull"`
	SHA256      string    `bun:"sha256,notnull"`
	Bundled     bool      `bun:"bundled,notnull"`
	Enabled     bool      `bun:"enabled,notnull"`
	State       string    `bun:"state,notnull"`
	LastError   string    `bun:"last_error,notnull"`
	Failures    int       `bun:"failures,notnull"`
	InstalledAt time.Time `bun:"installed_at,notnull"`
	UpdatedAt   time.Time `bun:"updated_at,notnull"`
}

func (r row) plugin() (Plugin, error) {
	p := Plugin{
		ID: r.ID, Name: r.Name, Version: r.Version, Dir: r.Dir, Executable: r.Executable,
		SHA256: r.SHA256, Bundled: r.Bundled, Enabled: r.Enabled, State: State(r.State),
		LastError: r.LastError, Failures: r.Failures, InstalledAt: r.InstalledAt, UpdatedAt: r.UpdatedAt,
	}
	// The stored manifest passed Parse at install; parsing it again keeps
	// one way of reading manifests.
	m, err := manifest.Parse([]byte(r.Manifest))
	if err != nil {
		return Plugin{}, fmt.Errorf("plugin %s: stored manifest: %w", r.ID, manifestFault(err))
	}
	p.Manifest = m
	if err := json.Unmarshal([]byte(r.Args), &p.Args); err != nil {
		return Plugin{}, fmt.Errorf("plugin %s: stored args: %w", r.ID, err)
	}
	if p.Args == nil {
		p.Args = []string{}
	}
	return p, nil
}

func (c *Catalogue) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

// manifestFault turns the manifest package's *manifest.Error (which knows
// nothing of core) into the fault the API shows: kind Invalid (422), the
// same code, message and fields keyed by JSON path. Other errors pass
// through.
func manifestFault(err error) error {
	var me *manifest.Error
	if !errors.As(err, &me) {
		return err
	}
	fe := fault.Fields(me.Fields)
	fe.Code = me.Code
	fe.Message = me.Message
	return fe
}

func notFound(id string) error {
	return fault.NotFoundf("plugin", "There is no plugin %q.", id)
}

// List returns every plugin, sorted by id.
func (c *Catalogue) List(ctx context.Context) ([]Plugin, error) {
	var rows []row
	if err := c.DB.NewSelect().Model(&rows).OrderExpr("id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list plugins: %w", err)
	}
	out := make([]Plugin, 0, len(rows))
	for _, r := range rows {
		p, err := r.plugin()
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// Get returns one plugin, or a NotFound fault.
func (c *Catalogue) Get(ctx context.Context, id string) (Plugin, error) {
	r, err := c.get(ctx, c.DB, id)
	if err != nil {
		return Plugin{}, err
	}
	return r.plugin()
}

func (c *Catalogue) get(ctx context.Context, db bun.IDB, id string) (row, error) {
	var r row
	err := db.NewSelect().Model(&r).Where("id = ?", id).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return row{}, notFound(id)
	}
	if err != nil {
		return row{}, fmt.Errorf("get plugin %s: %w", id, err)
	}
	return r, nil
}

// Manifest returns the installed manifest of a plugin (pluginsettings reads
// the settings schema through it).
func (c *Catalogue) Manifest(ctx context.Context, id string) (manifest.Manifest, error) {
	p, err := c.Get(ctx, id)
	if err != nil {
		return manifest.Manifest{}, err
	}
	return p.Manifest, nil
}

// Enable marks a plugin to be run. A disabled, failed or stopped plugin
// goes back to installed with its failure count cleared, so that the
// supervisor starts it afresh.
func (c *Catalogue) Enable(ctx context.Context, id string) error {
	res, err := c.DB.NewUpdate().Model((*row)(nil)).
		Set("enabled = TRUE").
		Set("state = CASE WHEN state IN ('disabled', 'failed', 'stopped') THEN 'installed' ELSE state END").
		Set("failures = 0").
		Set("last_error = ''").
		Set("updated_at = ?", c.now()).
		Where("id = ?", id).Exec(ctx)
	return affected(res, err, "enable", id)
}

// Disable marks a plugin not to be run; the supervisor stops it.
func (c *Catalogue) Disable(ctx context.Context, id string) error {
	res, err := c.DB.NewUpdate().Model((*row)(nil)).
		Set("enabled = FALSE").
		Set("state = ?", string(Disabled)).
		Set("updated_at = ?", c.now()).
		Where("id = ?", id).Exec(ctx)
	return affected(res, err, "disable", id)
}

// SetState records what the supervisor observed. Entering Failed counts one
// more failure; lastErr is stored as given (empty clears it).
func (c *Catalogue) SetState(ctx context.Context, id string, state State, lastErr string) error {
	if !slices.Contains(states, state) {
		return fmt.Errorf("set state of plugin %s: unknown state %q", id, state)
	}
	q := c.DB.NewUpdate().Model((*row)(nil)).
		Set("state = ?", string(state)).
		Set("last_error = ?", lastErr).
		Set("updated_at = ?", c.now()).
		Where("id = ?", id)
	if state == Failed {
		q = q.Set("failures = failures + 1")
	}
	res, err := q.Exec(ctx)
	return affected(res, err, "set state of", id)
}

func affected(res sql.Result, err error, what, id string) error {
	if err != nil {
		return fmt.Errorf("%s plugin %s: %w", what, id, err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return notFound(id)
	}
	return nil
}

// Remove deletes an installed plugin's row (its key-value data goes with
// it) and its files. Its settings rows stay in the settings table, so a
// reinstall finds them again. Bundled plugins are part of the hub binary
// and cannot be removed: they are refused with a Conflict fault; disable
// them instead.
func (c *Catalogue) Remove(ctx context.Context, id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, err := c.get(ctx, c.DB, id)
	if err != nil {
		return err
	}
	if r.Bundled {
		return fault.New(fault.Conflict, "bundled_plugin",
			"%s is bundled with the hub and cannot be removed; disable it instead.", r.Name)
	}
	if _, err := c.DB.NewDelete().Model((*row)(nil)).Where("id = ?", id).Exec(ctx); err != nil {
		return fmt.Errorf("remove plugin %s: %w", id, err)
	}
	dir, err := c.pluginDir(id)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove plugin %s: files: %w", id, err)
	}
	return nil
}

// ChecksumError says that an executable no longer has its pinned checksum.
// It matches sdk.ErrChecksumMismatch with errors.Is.
type ChecksumError struct {
	ID, Path, Got, Pinned string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("plugin %s: binary changed since install: sha256 %s != pinned %s (%s)", e.ID, e.Got, e.Pinned, e.Path)
}

func (e *ChecksumError) Is(target error) bool { return target == sdk.ErrChecksumMismatch }

// Verify recomputes the executable's SHA-256 and compares it with the
// pinned one, for the admin view. The real check at start is go-plugin's
// SecureConfig, fed with the pinned value.
func (c *Catalogue) Verify(p Plugin) error {
	got, err := fileSHA256(p.Executable)
	if err != nil {
		return fmt.Errorf("plugin %s: verify: %w", p.ID, err)
	}
	if got != p.SHA256 {
		return &ChecksumError{ID: p.ID, Path: p.Executable, Got: got, Pinned: p.SHA256}
	}
	return nil
}

// PinnedSum returns the pinned checksum as bytes, the form go-plugin's
// SecureConfig takes.
func (p Plugin) PinnedSum() ([]byte, error) {
	sum, err := hex.DecodeString(p.SHA256)
	if err != nil || len(sum) != sha256.Size {
		return nil, fmt.Errorf("plugin %s: pinned sha256 %q is not 64 hex digits", p.ID, p.SHA256)
	}
	return sum, nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// pluginDir is <Root>/<id>; the id passed manifest validation or comes from
// the table, but is checked again since the result is removed recursively.
func (c *Catalogue) pluginDir(id string) (string, error) {
	if c.Root == "" {
		return "", fmt.Errorf("plugins: no plugins directory configured")
	}
	if id == "" || id == "." || id == ".." || filepath.Base(id) != id {
		return "", fmt.Errorf("plugins: refusing plugin id %q as a directory name", id)
	}
	return filepath.Join(c.Root, id), nil
}

func (c *Catalogue) maxBytes() int64 {
	if c.MaxBytes > 0 {
		return c.MaxBytes
	}
	return DefaultMaxBytes
}

func (c *Catalogue) maxFiles() int {
	if c.MaxFiles > 0 {
		return c.MaxFiles
	}
	return DefaultMaxFiles
}
