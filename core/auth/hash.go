package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ArgonParams are argon2id's cost settings. Memory is in KiB.
type ArgonParams struct {
	Memory  uint32
	Time    uint32
	Threads uint8
	SaltLen uint32
	KeyLen  uint32
}

// DefaultParams are the production settings: 64 MiB, 2 passes, 2 lanes.
func DefaultParams() ArgonParams {
	return ArgonParams{Memory: 64 * 1024, Time: 2, Threads: 2, SaltLen: 16, KeyLen: 32}
}

// FastParams are for tests only: they make hashing nearly free and
// therefore make stolen hashes nearly free to crack.
func FastParams() ArgonParams {
	return ArgonParams{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
}

// Limits on parameters read back from a stored hash, so that a tampered row
// cannot make one verification eat the machine.
const (
	maxMemory  = 1024 * 1024 // 1 GiB
	maxTime    = 64
	maxKeyLen  = 128
	maxSaltLen = 128
)

// ErrMalformedHash means a stored password hash cannot be parsed.
var ErrMalformedHash = errors.New("malformed argon2id hash")

// Hasher hashes passwords with argon2id into PHC strings:
// $argon2id$v=19$m=65536,t=2,p=2$<salt>$<hash> (unpadded standard base64).
// A zero Params means DefaultParams; a nil Rand means crypto/rand.
type Hasher struct {
	Params ArgonParams
	Rand   io.Reader
}

func (h Hasher) params() ArgonParams {
	if h.Params == (ArgonParams{}) {
		return DefaultParams()
	}
	return h.Params
}

// Hash returns the encoded argon2id hash of pw with a fresh salt.
func (h Hasher) Hash(pw string) (string, error) {
	p := h.params()
	r := h.Rand
	if r == nil {
		r = rand.Reader
	}
	salt := make([]byte, p.SaltLen)
	if _, err := io.ReadFull(r, salt); err != nil {
		return "", fmt.Errorf("hash password: read salt: %w", err)
	}
	key := idKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.Memory, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

// Verify reports whether pw matches encoded, using the parameters stored in
// encoded so that hashes made before a parameter change still verify.
func (h Hasher) Verify(encoded, pw string) (bool, error) {
	p, salt, key, err := decodeHash(encoded)
	if err != nil {
		return false, err
	}
	got := idKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, uint32(len(key)))
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// NeedsRehash reports whether encoded was made with other parameters than
// the hasher's current ones (or cannot be parsed).
func (h Hasher) NeedsRehash(encoded string) bool {
	p, salt, key, err := decodeHash(encoded)
	if err != nil {
		return true
	}
	want := h.params()
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p != want
}

func decodeHash(encoded string) (p ArgonParams, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, key
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, ErrMalformedHash
	}
	if parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return p, nil, nil, fmt.Errorf("%w: unsupported version %q", ErrMalformedHash, parts[2])
	}
	m, t, threads, ok := parseCosts(parts[3])
	if !ok || threads < 1 || threads > 255 || t < 1 || t > maxTime || m < 8*threads || m > maxMemory {
		return p, nil, nil, fmt.Errorf("%w: bad parameters %q", ErrMalformedHash, parts[3])
	}
	p.Memory, p.Time = uint32(m), uint32(t)
	p.Threads = uint8(threads)
	if salt, err = base64.RawStdEncoding.Strict().DecodeString(parts[4]); err != nil || len(salt) < 8 || len(salt) > maxSaltLen {
		return p, nil, nil, fmt.Errorf("%w: bad salt", ErrMalformedHash)
	}
	if key, err = base64.RawStdEncoding.Strict().DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > maxKeyLen {
		return p, nil, nil, fmt.Errorf("%w: bad key", ErrMalformedHash)
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	return p, salt, key, nil
}

// parseCosts reads exactly "m=<n>,t=<n>,p=<n>".
func parseCosts(s string) (m, t, p uint64, ok bool) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return 0, 0, 0, false
	}
	var vals [3]uint64
	for i, prefix := range []string{"m=", "t=", "p="} {
		v, found := strings.CutPrefix(fields[i], prefix)
		if !found {
			return 0, 0, 0, false
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return 0, 0, 0, false
		}
		vals[i] = n
	}
	return vals[0], vals[1], vals[2], true
}

// argonSlots bounds how many argon2id computations run at once. Each takes
// the configured memory (64 MiB by default), so a burst of sign-ins waits in
// line instead of exhausting the machine's memory.
var argonSlots = make(chan struct{}, max(2, runtime.NumCPU()))

func idKey(pw, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte {
	argonSlots <- struct{}{}
	defer func() { <-argonSlots }()
	return argon2.IDKey(pw, salt, time, memory, threads, keyLen)
}
