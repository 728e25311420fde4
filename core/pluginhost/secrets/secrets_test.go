package secrets_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tetherhq/tether/core/pluginhost/secrets"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, 32) }

func keyring(t *testing.T, b byte) *secrets.Keyring {
	t.Helper()
	k, err := secrets.New(key(b))
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func noEnv(string) string { return "" }

func TestSealOpen(t *testing.T) {
	k := keyring(t, 1)
	for _, plain := range []string{"", "hunter2", strings.Repeat("é", 10000)} {
		sealed, err := k.Seal([]byte(plain))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(sealed, "v1:") || !secrets.IsSealed(sealed) {
			t.Fatalf("sealed = %q, want a v1: value", sealed)
		}
		if plain != "" && strings.Contains(sealed, plain) {
			t.Fatal("plaintext visible in the sealed value")
		}
		got, err := k.Open(sealed)
		if err != nil || string(got) != plain {
			t.Fatalf("Open = %q, %v; want %q", got, err, plain)
		}
	}
	a, _ := k.Seal([]byte("same"))
	b, _ := k.Seal([]byte("same"))
	if a == b {
		t.Error("two seals of one value are equal: nonces repeat")
	}
}

func TestOpenRefuses(t *testing.T) {
	k := keyring(t, 1)
	sealed, _ := k.Seal([]byte("hunter2"))
	raw, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(sealed, "v1:"))
	raw[len(raw)-1] ^= 1
	tampered := "v1:" + base64.StdEncoding.EncodeToString(raw)

	bound, _ := k.SealFor([]byte("hunter2"), []byte("plugin.a.token"))

	for name, tc := range map[string]struct {
		k      *secrets.Keyring
		sealed string
		is     error
	}{
		"other key":     {keyring(t, 2), sealed, secrets.ErrOpen},
		"tampered":      {k, tampered, secrets.ErrOpen},
		"short":         {k, "v1:AAAA", secrets.ErrOpen},
		"no prefix":     {k, "hunter2", nil},
		"other version": {k, "v2:" + strings.TrimPrefix(sealed, "v1:"), nil},
		"not base64":    {k, "v1:***", nil},
		"no purpose":    {k, bound, secrets.ErrOpen},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := tc.k.Open(tc.sealed)
			if err == nil {
				t.Fatal("opened")
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("err = %v, want %v", err, tc.is)
			}
		})
	}
	if _, err := k.OpenFor(bound, []byte("plugin.b.token")); !errors.Is(err, secrets.ErrOpen) {
		t.Errorf("opened with another purpose: %v", err)
	}
	if got, err := k.OpenFor(bound, []byte("plugin.a.token")); err != nil || string(got) != "hunter2" {
		t.Errorf("OpenFor = %q, %v", got, err)
	}
}

func TestNewRefusesShortKey(t *testing.T) {
	if _, err := secrets.New(make([]byte, 16)); err == nil {
		t.Fatal("16-byte key accepted")
	}
}

func TestLoadFromEnv(t *testing.T) {
	env := func(v string) func(string) string {
		return func(name string) string {
			if name == secrets.EnvKey {
				return v
			}
			return ""
		}
	}
	dir := t.TempDir()
	k, err := secrets.Load(env(base64.StdEncoding.EncodeToString(key(7))+"\n"), dir)
	if err != nil {
		t.Fatal(err)
	}
	sealed, _ := k.Seal([]byte("x"))
	if _, err := keyring(t, 7).Open(sealed); err != nil {
		t.Errorf("env key not used: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, secrets.KeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a key file was written although the environment holds the key: %v", err)
	}
	for _, bad := range []string{"not base64!", base64.StdEncoding.EncodeToString(key(7)[:31])} {
		if _, err := secrets.Load(env(bad), dir); err == nil || !strings.Contains(err.Error(), secrets.EnvKey) {
			t.Errorf("Load(%q) = %v, want an error naming %s", bad, err, secrets.EnvKey)
		}
	}
}

func TestLoadCreatesKeyFileOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	k1, err := secrets.Load(noEnv, dir)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, secrets.KeyFile)
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o600 {
		t.Errorf("key file mode %04o, want 0600", perm)
	}
	sealed, _ := k1.Seal([]byte("kept"))
	k2, err := secrets.Load(noEnv, dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k2.Open(sealed); err != nil || string(got) != "kept" {
		t.Errorf("second load uses another key: %q, %v", got, err)
	}
	left, _ := filepath.Glob(filepath.Join(dir, ".secret.key-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}

func TestLoadConcurrentAgree(t *testing.T) {
	dir := t.TempDir()
	var wg sync.WaitGroup
	rings := make([]*secrets.Keyring, 8)
	errs := make([]error, 8)
	for i := range rings {
		wg.Go(func() { rings[i], errs[i] = secrets.Load(noEnv, dir) })
	}
	wg.Wait()
	sealed, _ := keyringOrFail(t, rings[0], errs[0]).Seal([]byte("x"))
	for i := range rings {
		if _, err := keyringOrFail(t, rings[i], errs[i]).Open(sealed); err != nil {
			t.Errorf("loader %d got another key: %v", i, err)
		}
	}
}

func keyringOrFail(t *testing.T, k *secrets.Keyring, err error) *secrets.Keyring {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestLoadRefusesLooseOrBadKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, secrets.KeyFile)
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(key(3))), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.Load(noEnv, dir); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("world-readable key file: %v", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.Load(noEnv, dir); err != nil {
		t.Errorf("0600 key file: %v", err)
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := secrets.Load(noEnv, dir); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("garbage key file: %v", err)
	}
	if _, err := secrets.Load(noEnv, ""); err == nil {
		t.Error("no env and no data directory accepted")
	}
}
