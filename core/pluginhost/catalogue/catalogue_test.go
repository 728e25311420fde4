package catalogue_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/pluginhost/catalogue"
	"github.com/tetherhq/tether/core/store/storetest"
	"github.com/tetherhq/tether/sdk"
)

var testNow = time.Date(2026, 11, 26, 10, 0, 0, 0, time.UTC)

func newCatalogue(t *testing.T, db *bun.DB) *catalogue.Catalogue {
	t.Helper()
	return &catalogue.Catalogue{DB: db, Root: filepath.Join(t.TempDir(), "plugins"), HubVersion: "1.5.0", Now: func() time.Time { return testNow }}
}

func manifestJSON(id, version string) string {
	return `{"id":"` + id + `","name":"Post to URL","version":"` + version + `","executable":"bin/run",` +
		`"capabilities":["events","routing"],"events":["session.*"],"routing":["rules/vip.expr"],` +
		`"settings":[{"key":"url","type":"url","label":"URL","required":true}]}`
}

const exeContent = "#!/bin/sh\necho plugin\n"

// pluginDir writes a plugin directory; files maps slash paths to content,
// and names ending in "*" are made executable.
func pluginDir(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		mode := os.FileMode(0o644)
		if n, ok := strings.CutSuffix(name, "*"); ok {
			name, mode = n, 0o755
		}
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(path, mode); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func validDir(t *testing.T, id, version string) string {
	return pluginDir(t, map[string]string{
		"plugin.json":    manifestJSON(id, version),
		"bin/run*":       exeContent,
		"rules/vip.expr": `session.priority > 5`,
		"README.md":      "# posturl",
	})
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

func TestInstallDirAndReinstall(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCatalogue(t, db)
		p, err := c.InstallDir(ctx, validDir(t, "posturl", "1.0.0"))
		if err != nil {
			t.Fatal(err)
		}
		wantDir := filepath.Join(c.Root, "posturl", "1.0.0")
		if p.Dir != wantDir || p.Executable != filepath.Join(wantDir, "bin", "run") {
			t.Errorf("dir %q executable %q", p.Dir, p.Executable)
		}
		if p.SHA256 != sum(exeContent) || p.Enabled || p.State != catalogue.Installed || p.Bundled || len(p.Args) != 0 {
			t.Errorf("installed %+v", p)
		}
		if p.Manifest.ID != "posturl" || !p.InstalledAt.Equal(testNow) {
			t.Errorf("manifest %+v installed at %v", p.Manifest, p.InstalledAt)
		}
		if info, err := os.Stat(p.Executable); err != nil || info.Mode().Perm()&0o100 == 0 {
			t.Errorf("executable copy: %v %v", info, err)
		}
		if b, err := os.ReadFile(filepath.Join(wantDir, "README.md")); err != nil || string(b) != "# posturl" {
			t.Errorf("README copy: %q %v", b, err)
		}
		if err := c.Verify(p); err != nil {
			t.Errorf("Verify fresh install: %v", err)
		}
		got, err := c.Get(ctx, "posturl")
		if err != nil || !reflect.DeepEqual(got, p) {
			t.Errorf("Get = %+v, %v", got, err)
		}

		if err := c.Enable(ctx, "posturl"); err != nil {
			t.Fatal(err)
		}
		if err := c.SetState(ctx, "posturl", catalogue.Running, ""); err != nil {
			t.Fatal(err)
		}
		p2, err := c.InstallDir(ctx, validDir(t, "posturl", "1.1.0"))
		if err != nil {
			t.Fatal(err)
		}
		if p2.Version != "1.1.0" || !p2.Enabled || p2.State != catalogue.Installed {
			t.Errorf("reinstall: version %s enabled %v state %s", p2.Version, p2.Enabled, p2.State)
		}
		if _, err := os.Stat(wantDir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("old version left behind: %v", err)
		}
		// The same version again replaces the files in place.
		if _, err := c.InstallDir(ctx, validDir(t, "posturl", "1.1.0")); err != nil {
			t.Fatalf("reinstall same version: %v", err)
		}
		entries, _ := os.ReadDir(c.Root)
		for _, e := range entries {
			if e.Name() != "posturl" {
				t.Errorf("left in the plugins directory: %s", e.Name())
			}
		}
	})
}

func TestVerifyDetectsChangedBinary(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		c := newCatalogue(t, db)
		p, err := c.InstallDir(context.Background(), validDir(t, "posturl", "1.0.0"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p.Executable, []byte("#!/bin/sh\nrm -rf /\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		err = c.Verify(p)
		if !errors.Is(err, sdk.ErrChecksumMismatch) {
			t.Fatalf("Verify = %v, want a checksum mismatch", err)
		}
		want := "binary changed since install: sha256 " + sum("#!/bin/sh\nrm -rf /\n") + " != pinned " + sum(exeContent)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q, want it to contain %q", err, want)
		}
		pinned, err := p.PinnedSum()
		if err != nil || hex.EncodeToString(pinned) != p.SHA256 {
			t.Errorf("PinnedSum = %x, %v", pinned, err)
		}
	})
}

func TestInstallDirRefuses(t *testing.T) {
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("s"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		dir   func(t *testing.T) string
		field string
		want  string
	}{
		{"no manifest", func(t *testing.T) string { return pluginDir(t, map[string]string{"bin/run*": "x"}) },
			"dir", "no plugin.json"},
		{"invalid manifest", func(t *testing.T) string {
			return pluginDir(t, map[string]string{"plugin.json": `{"id":"X"}`})
		}, "id", "lowercase"},
		{"missing executable", func(t *testing.T) string {
			return pluginDir(t, map[string]string{"plugin.json": manifestJSON("posturl", "1.0.0"), "rules/vip.expr": "x"})
		}, "executable", "does not exist"},
		{"not executable", func(t *testing.T) string {
			return pluginDir(t, map[string]string{"plugin.json": manifestJSON("posturl", "1.0.0"), "bin/run": "x", "rules/vip.expr": "x"})
		}, "executable", "chmod +x"},
		{"missing routing file", func(t *testing.T) string {
			return pluginDir(t, map[string]string{"plugin.json": manifestJSON("posturl", "1.0.0"), "bin/run*": "x"})
		}, "routing[0]", "does not exist"},
		{"executable is a symlink", func(t *testing.T) string {
			d := pluginDir(t, map[string]string{"plugin.json": manifestJSON("posturl", "1.0.0"), "rules/vip.expr": "x", "real*": "x"})
			os.MkdirAll(filepath.Join(d, "bin"), 0o755)
			symlink(t, "../real", filepath.Join(d, "bin", "run"))
			return d
		}, "executable", "without symlinks"},
		{"executable under a symlinked directory", func(t *testing.T) string {
			d := pluginDir(t, map[string]string{"plugin.json": manifestJSON("posturl", "1.0.0"), "rules/vip.expr": "x", "real/run*": "x"})
			symlink(t, "real", filepath.Join(d, "bin"))
			return d
		}, "executable", "without symlinks"},
		{"symlink escaping", func(t *testing.T) string {
			d := validDir(t, "posturl", "1.0.0")
			symlink(t, filepath.Join(outside, "secret"), filepath.Join(d, "leak"))
			return d
		}, "dir", `"leak" is a symlink pointing outside`},
		{"relative symlink escaping", func(t *testing.T) string {
			d := validDir(t, "posturl", "1.0.0")
			rel, _ := filepath.Rel(filepath.Join(d, "rules"), filepath.Join(outside, "secret"))
			symlink(t, rel, filepath.Join(d, "rules", "leak"))
			return d
		}, "dir", `"rules/leak" is a symlink pointing outside`},
		{"symlink to a directory", func(t *testing.T) string {
			d := validDir(t, "posturl", "1.0.0")
			symlink(t, "rules", filepath.Join(d, "loop"))
			return d
		}, "dir", "only symlinks to files"},
		{"fifo", func(t *testing.T) string {
			d := validDir(t, "posturl", "1.0.0")
			if err := syscall.Mkfifo(filepath.Join(d, "pipe"), 0o644); err != nil {
				t.Skip("mkfifo:", err)
			}
			return d
		}, "dir", `"pipe" is not a regular file`},
		{"bundled manifest", func(t *testing.T) string {
			return pluginDir(t, map[string]string{"plugin.json": `{"id":"surveys","name":"S","version":"1.0.0","bundled":true,"capabilities":["http"]}`})
		}, "bundled", "cannot be installed"},
		{"hub too old", func(t *testing.T) string {
			return pluginDir(t, map[string]string{"bin/run*": "x", "rules/vip.expr": "x",
				"plugin.json": strings.Replace(manifestJSON("posturl", "1.0.0"), `"executable"`, `"min_hub_version":"2.0.0","executable"`, 1)})
		}, "min_hub_version", "needs Tether 2.0.0"},
	}
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		c := newCatalogue(t, db)
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				_, err := c.InstallDir(context.Background(), tt.dir(t))
				expectField(t, err, tt.field, tt.want)
				expectNothingInstalled(t, c)
			})
		}
	})
}

func TestInstallDirFollowsSymlinksToFilesInside(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		c := newCatalogue(t, db)
		d := validDir(t, "posturl", "1.0.0")
		symlink(t, "../README.md", filepath.Join(d, "rules", "readme"))
		p, err := c.InstallDir(context.Background(), d)
		if err != nil {
			t.Fatal(err)
		}
		info, err := os.Lstat(filepath.Join(p.Dir, "rules", "readme"))
		if err != nil || !info.Mode().IsRegular() {
			t.Errorf("symlink inside should be copied as a plain file: %v %v", info, err)
		}
	})
}

func symlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

func expectField(t *testing.T, err error, field, want string) {
	t.Helper()
	fe, ok := fault.As(err)
	if !ok {
		t.Fatalf("err = %v, want a fault naming %s", err, field)
	}
	if !strings.Contains(fe.Fields[field], want) {
		t.Fatalf("fields = %v, want %s to mention %q", fe.Fields, field, want)
	}
}

func expectNothingInstalled(t *testing.T, c *catalogue.Catalogue) {
	t.Helper()
	list, err := c.List(context.Background())
	if err != nil || len(list) != 0 {
		t.Errorf("catalogue holds %v (%v) after a refused install", list, err)
	}
	entries, _ := os.ReadDir(c.Root)
	if len(entries) != 0 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("plugins directory holds %v after a refused install", names)
	}
}

func TestBundled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCatalogue(t, db)
		self := filepath.Join(t.TempDir(), "tether")
		if err := os.WriteFile(self, []byte("hub v1"), 0o755); err != nil {
			t.Fatal(err)
		}
		doc := []byte(`{"id":"surveys","name":"Surveys","version":"1.0.0","bundled":true,"capabilities":["http","events"],"events":["session.closed"]}`)
		p, err := c.RegisterBundled(ctx, doc, self)
		if err != nil {
			t.Fatal(err)
		}
		if !p.Bundled || p.Executable != self || !reflect.DeepEqual(p.Args, []string{"plugin", "run", "surveys"}) || p.SHA256 != sum("hub v1") || p.Dir != "" {
			t.Errorf("registered %+v", p)
		}
		if err := c.Verify(p); err != nil {
			t.Error(err)
		}
		// The next hub start: a new binary, a stale running state.
		if err := c.Enable(ctx, "surveys"); err != nil {
			t.Fatal(err)
		}
		if err := c.SetState(ctx, "surveys", catalogue.Failed, "crashed"); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(self, []byte("hub v2"), 0o755); err != nil {
			t.Fatal(err)
		}
		p, err = c.RegisterBundled(ctx, []byte(strings.Replace(string(doc), "1.0.0", "1.1.0", 1)), self)
		if err != nil {
			t.Fatal(err)
		}
		if p.SHA256 != sum("hub v2") || p.Version != "1.1.0" || !p.Enabled || p.State != catalogue.Installed || p.Failures != 0 || p.LastError != "" {
			t.Errorf("re-registered %+v", p)
		}
		if err := c.Disable(ctx, "surveys"); err != nil {
			t.Fatal(err)
		}
		if p, _ = c.RegisterBundled(ctx, doc, self); p.State != catalogue.Disabled || p.Enabled {
			t.Errorf("a disabled bundled plugin must stay disabled: %+v", p)
		}

		err = c.Remove(ctx, "surveys")
		if fe, ok := fault.As(err); !ok || fe.Kind != fault.Conflict || !strings.Contains(fe.Message, "disable it instead") {
			t.Errorf("Remove bundled = %v", err)
		}
		_, err = c.InstallDir(ctx, validDir(t, "surveys", "9.0.0"))
		if !fault.IsKind(err, fault.Conflict) {
			t.Errorf("installing over a bundled id = %v, want Conflict", err)
		}
		if _, err := c.InstallDir(ctx, validDir(t, "posturl", "1.0.0")); err != nil {
			t.Fatal(err)
		}
		_, err = c.RegisterBundled(ctx, []byte(strings.Replace(string(doc), "surveys", "posturl", 1)), self)
		if !fault.IsKind(err, fault.Conflict) {
			t.Errorf("registering a bundled plugin over an installed id = %v, want Conflict", err)
		}
		if _, err := c.RegisterBundled(ctx, []byte(manifestJSON("other", "1.0.0")), self); err == nil {
			t.Error("a manifest without bundled: true was registered as bundled")
		}
	})
}

func TestStatesListRemove(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		c := newCatalogue(t, db)
		for _, id := range []string{"zeta", "alpha"} {
			if _, err := c.InstallDir(ctx, validDir(t, id, "1.0.0")); err != nil {
				t.Fatal(err)
			}
		}
		list, err := c.List(ctx)
		if err != nil || len(list) != 2 || list[0].ID != "alpha" || list[1].ID != "zeta" {
			t.Fatalf("List = %v, %v", list, err)
		}
		for range 2 {
			if err := c.SetState(ctx, "alpha", catalogue.Failed, "exit status 2"); err != nil {
				t.Fatal(err)
			}
		}
		p, _ := c.Get(ctx, "alpha")
		if p.State != catalogue.Failed || p.Failures != 2 || p.LastError != "exit status 2" {
			t.Errorf("after two failures: %+v", p)
		}
		if err := c.Enable(ctx, "alpha"); err != nil {
			t.Fatal(err)
		}
		p, _ = c.Get(ctx, "alpha")
		if !p.Enabled || p.State != catalogue.Installed || p.Failures != 0 || p.LastError != "" {
			t.Errorf("after Enable: %+v", p)
		}
		if err := c.Disable(ctx, "alpha"); err != nil {
			t.Fatal(err)
		}
		if p, _ = c.Get(ctx, "alpha"); p.Enabled || p.State != catalogue.Disabled {
			t.Errorf("after Disable: %+v", p)
		}
		if err := c.SetState(ctx, "alpha", "exploded", ""); err == nil {
			t.Error("unknown state accepted")
		}
		for name, err := range map[string]error{
			"get":     func() error { _, err := c.Get(ctx, "nope"); return err }(),
			"enable":  c.Enable(ctx, "nope"),
			"disable": c.Disable(ctx, "nope"),
			"state":   c.SetState(ctx, "nope", catalogue.Running, ""),
			"remove":  c.Remove(ctx, "nope"),
		} {
			if !fault.IsKind(err, fault.NotFound) {
				t.Errorf("%s of a missing plugin = %v, want NotFound", name, err)
			}
		}
		if err := c.Remove(ctx, "alpha"); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(c.Root, "alpha")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("files left after Remove: %v", err)
		}
		if _, err := c.Get(ctx, "alpha"); !fault.IsKind(err, fault.NotFound) {
			t.Errorf("row left after Remove: %v", err)
		}
		if m, err := c.Manifest(ctx, "zeta"); err != nil || m.ID != "zeta" {
			t.Errorf("Manifest = %+v, %v", m, err)
		}
	})
}

// entry is one member of a test archive.
type entry struct {
	hdr  tar.Header
	body string
}

func file(name, body string) entry {
	return entry{tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))}, body}
}

func exe(name, body string) entry {
	e := file(name, body)
	e.hdr.Mode = 0o755
	return e
}

func link(typ byte, name, target string) entry {
	return entry{tar.Header{Name: name, Typeflag: typ, Linkname: target, Mode: 0o777}, ""}
}

func targz(t *testing.T, entries ...entry) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		h := e.hdr
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("write header %s: %v", h.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return &buf
}

func validEntries(prefix string) []entry {
	var es []entry
	if prefix != "" {
		es = append(es, entry{tar.Header{Name: prefix, Typeflag: tar.TypeDir, Mode: 0o755}, ""})
	}
	return append(es,
		file(prefix+"plugin.json", manifestJSON("posturl", "1.0.0")),
		exe(prefix+"bin/run", exeContent),
		file(prefix+"rules/vip.expr", "true"),
	)
}

func TestInstallTarGz(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		for _, prefix := range []string{"", "./", "posturl-1.0.0/"} {
			t.Run("prefix "+prefix, func(t *testing.T) {
				c := newCatalogue(t, db)
				entries := append(validEntries(prefix),
					link(tar.TypeSymlink, prefix+"rules/again.expr", "vip.expr"),
					link(tar.TypeLink, prefix+"bin/hard", prefix+"bin/run"),
				)
				p, err := c.InstallTarGz(ctx, targz(t, entries...))
				if err != nil {
					t.Fatal(err)
				}
				if p.SHA256 != sum(exeContent) || p.Version != "1.0.0" {
					t.Errorf("installed %+v", p)
				}
				if b, err := os.ReadFile(filepath.Join(p.Dir, "bin", "hard")); err != nil || string(b) != exeContent {
					t.Errorf("hard link copy: %q %v", b, err)
				}
				if b, err := os.ReadFile(filepath.Join(p.Dir, "rules", "again.expr")); err != nil || string(b) != "true" {
					t.Errorf("symlink copy: %q %v", b, err)
				}
				if err := c.Remove(ctx, "posturl"); err != nil {
					t.Fatal(err)
				}
			})
		}
	})
}

func TestInstallTarGzRefusesHostileArchives(t *testing.T) {
	big := strings.Repeat("\x00", 4<<20)
	tests := []struct {
		name    string
		archive func(t *testing.T) *bytes.Buffer
		want    string
	}{
		{"not gzip", func(t *testing.T) *bytes.Buffer { return bytes.NewBufferString("PK\x03\x04 a zip") }, "not a gzip"},
		{"dot-dot", func(t *testing.T) *bytes.Buffer {
			return targz(t, append(validEntries(""), file("../evil", "x"))...)
		}, `"../evil" has ".." in its name`},
		{"nested dot-dot", func(t *testing.T) *bytes.Buffer {
			return targz(t, append(validEntries(""), file("rules/../../evil", "x"))...)
		}, `"rules/../../evil" has ".."`},
		{"absolute", func(t *testing.T) *bytes.Buffer {
			return targz(t, append(validEntries(""), file("/tmp/evil", "x"))...)
		}, `"/tmp/evil" has an absolute name`},
		{"symlink out", func(t *testing.T) *bytes.Buffer {
			return targz(t, append(validEntries(""), link(tar.TypeSymlink, "rules/passwd", "../../etc/passwd"))...)
		}, `"rules/passwd" is a symlink pointing outside`},
		{"absolute symlink", func(t *testing.T) *bytes.Buffer {
			return targz(t, append(validEntries(""), link(tar.TypeSymlink, "passwd", "/etc/passwd"))...)
		}, `"passwd" is a symlink to the absolute`},
		{"write through symlink", func(t *testing.T) *bytes.Buffer {
			return targz(t, append(validEntries(""), link(tar.TypeSymlink, "d", "."), file("d/evil", "x"))...)
		}, `"d/evil" is placed under the symlink "d"`},
		{"two-step symlink escape", func(t *testing.T) *bytes.Buffer {
			return targz(t, append(validEntries(""),
				link(tar.TypeSymlink, "d/x", ".."),
				link(tar.TypeSymlink, "d/w", "x/../../escape"))...)
		}, `"d/w" is a symlink`},
		{"hard link out", func(t *testing.T) *bytes.Buffer {
			return targz(t, append(validEntries(""), link(tar.TypeLink, "shadow", "../../etc/shadow"))...)
		}, `"shadow" is a hard link pointing outside`},
		{"hard link absolute", func(t *testing.T) *bytes.Buffer {
			return targz(t, append(validEntries(""), link(tar.TypeLink, "shadow", "/etc/shadow"))...)
		}, `"shadow" is a hard link pointing outside`},
		{"hard link to a later entry", func(t *testing.T) *bytes.Buffer {
			return targz(t, append(validEntries(""), link(tar.TypeLink, "early", "late"), file("late", "x"))...)
		}, `not a file unpacked before it`},
		{"device", func(t *testing.T) *bytes.Buffer {
			return targz(t, append(validEntries(""), entry{tar.Header{Name: "sda", Typeflag: tar.TypeBlock, Devmajor: 8, Mode: 0o600}, ""})...)
		}, `"sda" is a device or a pipe`},
		{"char device", func(t *testing.T) *bytes.Buffer {
			return targz(t, append(validEntries(""), entry{tar.Header{Name: "null", Typeflag: tar.TypeChar, Devmajor: 1, Devminor: 3, Mode: 0o666}, ""})...)
		}, `"null" is a device or a pipe`},
		{"fifo", func(t *testing.T) *bytes.Buffer {
			return targz(t, append(validEntries(""), entry{tar.Header{Name: "pipe", Typeflag: tar.TypeFifo, Mode: 0o600}, ""})...)
		}, `"pipe" is a device or a pipe`},
		{"duplicate", func(t *testing.T) *bytes.Buffer {
			return targz(t, append(validEntries(""), file("plugin.json", "{}"))...)
		}, `"plugin.json" appears twice`},
		{"symlink then file at its name", func(t *testing.T) *bytes.Buffer {
			return targz(t, append(validEntries(""), link(tar.TypeSymlink, "x", "plugin.json"), file("x", "overwrite"))...)
		}, `"x" appears twice`},
		{"too big (gzip bomb)", func(t *testing.T) *bytes.Buffer {
			return targz(t, append(validEntries(""), file("bomb", big))...)
		}, `"bomb" takes the plugin past its size limit of 1048576 bytes`},
		{"too many files", func(t *testing.T) *bytes.Buffer {
			es := validEntries("")
			for i := range 20 {
				es = append(es, file("many/"+strings.Repeat("f", i+1), "x"))
			}
			return targz(t, es...)
		}, `is one entry too many: a plugin may hold at most 16`},
		{"no manifest", func(t *testing.T) *bytes.Buffer {
			return targz(t, exe("bin/run", exeContent))
		}, "has no plugin.json"},
		{"two top-level directories", func(t *testing.T) *bytes.Buffer {
			return targz(t, append(validEntries("a/"), file("b/x", "x"))...)
		}, "has no plugin.json"},
		{"truncated", func(t *testing.T) *bytes.Buffer {
			b := targz(t, validEntries("")...)
			return bytes.NewBuffer(b.Bytes()[:b.Len()/2])
		}, "cannot be read"},
	}
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				base := t.TempDir()
				c := newCatalogue(t, db)
				c.Root = filepath.Join(base, "plugins")
				c.MaxBytes, c.MaxFiles = 1<<20, 16
				_, err := c.InstallTarGz(context.Background(), tt.archive(t))
				fe, ok := fault.As(err)
				if !ok || !strings.Contains(fe.Fields["archive"], tt.want) {
					t.Fatalf("err = %v, want the archive field to mention %q", err, tt.want)
				}
				expectNothingInstalled(t, c)
				entries, _ := os.ReadDir(base)
				if len(entries) != 1 {
					t.Errorf("something was written beside the plugins directory: %v", entries)
				}
			})
		}
	})
}
