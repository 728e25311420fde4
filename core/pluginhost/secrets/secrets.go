package secrets

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// EnvKey names the environment variable holding the key: the base64 of 32
// random bytes (e.g. `openssl rand -base64 32`).
const EnvKey = "TETHER_SECRET_KEY"

// KeyFile is the key's file name inside the data directory when EnvKey is unset.
const KeyFile = "secret.key"

// prefix marks the format of a sealed value: "v1:" then the base64 of the
// 12-byte nonce followed by the AES-256-GCM ciphertext and tag.
const prefix = "v1:"

// ErrOpen is returned for a sealed value that does not open with this key:
// tampered with, sealed by another key, or sealed for another purpose.
var ErrOpen = errors.New("sealed value cannot be opened with this key (tampered, or sealed with another key or for another purpose)")

// Keyring seals and opens values with one key.
type Keyring struct {
	aead cipher.AEAD
	// Rand provides nonces; nil means crypto/rand.
	Rand io.Reader
}

// New builds a keyring from a 32-byte key.
func New(key []byte) (*Keyring, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("secret key: %d bytes, want 32", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	return &Keyring{aead: aead}, nil
}

// Load returns the hub's keyring: from the environment variable when it is
// set, else from dataDir/secret.key, which it creates (mode 0600) with a
// new random key when missing. getenv is os.Getenv outside tests.
func Load(getenv func(string) string, dataDir string) (*Keyring, error) {
	if v := strings.TrimSpace(getenv(EnvKey)); v != "" {
		key, err := decodeKey(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvKey, err)
		}
		return New(key)
	}
	if dataDir == "" {
		return nil, fmt.Errorf("secret key: %s is unset and there is no data directory to keep %s in", EnvKey, KeyFile)
	}
	key, err := keyFromFile(filepath.Join(dataDir, KeyFile))
	if err != nil {
		return nil, err
	}
	return New(key)
}

func decodeKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("decodes to %d bytes, want 32 (openssl rand -base64 32)", len(key))
	}
	return key, nil
}

// keyFromFile reads the key file, creating it first when it does not exist.
// The new file is written aside and linked into place, so that two hubs
// starting together agree on one key and never read a half-written file.
func keyFromFile(path string) ([]byte, error) {
	key, err := readKeyFile(path)
	if !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("secret key: generate: %w", err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".secret.key-*")
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file 0600.
	_, err = tmp.WriteString(base64.StdEncoding.EncodeToString(fresh) + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("secret key: write %s: %w", tmp.Name(), err)
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("secret key: create %s: %w", path, err)
	}
	// Whoever linked first won; everybody reads the same file.
	return readKeyFile(path)
}

func readKeyFile(path string) ([]byte, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("secret key: %s is not a regular file", path)
	}
	if perm := info.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("secret key: %s is accessible to other users (mode %04o); run chmod 600 on it", path, perm)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("secret key: %w", err)
	}
	key, err := decodeKey(string(bytes.TrimSpace(data)))
	if err != nil {
		return nil, fmt.Errorf("secret key: %s: %w", path, err)
	}
	return key, nil
}

// Seal encrypts plaintext. The result is text, safe to store in any column.
func (k *Keyring) Seal(plaintext []byte) (string, error) { return k.SealFor(plaintext, nil) }

// Open decrypts what Seal returned.
func (k *Keyring) Open(sealed string) ([]byte, error) { return k.OpenFor(sealed, nil) }

// SealFor encrypts plaintext bound to a purpose (GCM associated data, e.g.
// "plugin.posturl.token"): the value opens only with the same purpose, so
// a sealed value copied into another field or plugin is refused.
func (k *Keyring) SealFor(plaintext, purpose []byte) (string, error) {
	nonce := make([]byte, k.aead.NonceSize(), k.aead.NonceSize()+len(plaintext)+k.aead.Overhead())
	r := k.Rand
	if r == nil {
		r = rand.Reader
	}
	if _, err := io.ReadFull(r, nonce); err != nil {
		return "", fmt.Errorf("seal: nonce: %w", err)
	}
	out := k.aead.Seal(nonce, nonce, plaintext, purpose)
	return prefix + base64.StdEncoding.EncodeToString(out), nil
}

// OpenFor decrypts what SealFor returned for the same purpose.
func (k *Keyring) OpenFor(sealed string, purpose []byte) ([]byte, error) {
	body, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return nil, fmt.Errorf("open sealed value: unknown format (want %q prefix)", prefix)
	}
	data, err := base64.StdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("open sealed value: not base64: %w", err)
	}
	if len(data) < k.aead.NonceSize()+k.aead.Overhead() {
		return nil, fmt.Errorf("open sealed value: %w", ErrOpen)
	}
	nonce, ct := data[:k.aead.NonceSize()], data[k.aead.NonceSize():]
	plain, err := k.aead.Open(nil, nonce, ct, purpose)
	if err != nil {
		return nil, fmt.Errorf("open sealed value: %w", ErrOpen)
	}
	return plain, nil
}

// IsSealed reports whether s looks like a value Seal produced.
func IsSealed(s string) bool { return strings.HasPrefix(s, prefix) }
