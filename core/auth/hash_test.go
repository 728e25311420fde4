package auth

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
)

func TestHashFormatWithProductionParams(t *testing.T) {
	h := Hasher{Params: DefaultParams()}
	enc, err := h.Hash("Sample1%")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=65536,t=2,p=2\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(enc) {
		t.Fatalf("hash %q is not a PHC argon2id string with the production parameters", enc)
	}
	if h.NeedsRehash(enc) {
		t.Error("a fresh hash needs rehash")
	}
	again, _ := h.Hash("Sample1%")
	if again == enc {
		t.Error("two hashes of one password are equal; salts are not random")
	}
}

// The reference implementation's test vector (phc-winner-argon2 src/test.c).
const referenceHash = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"

func TestVerifyReferenceVector(t *testing.T) {
	var h Hasher // other parameters than the vector's: they are read from the string
	for pw, want := range map[string]bool{"password": true, "Password": false, "": false} {
		got, err := h.Verify(referenceHash, pw)
		if err != nil || got != want {
			t.Errorf("Verify(reference, %q) = %v, %v; want %v", pw, got, err, want)
		}
	}
	if !h.NeedsRehash(referenceHash) {
		t.Error("reference hash (p=1) does not need rehash under the default parameters")
	}
}

func TestHashIsDeterministicGivenTheSalt(t *testing.T) {
	h := Hasher{Params: ArgonParams{Memory: 65536, Time: 2, Threads: 1, SaltLen: 8, KeyLen: 32},
		Rand: strings.NewReader("somesalt")}
	got, err := h.Hash("password")
	if err != nil {
		t.Fatal(err)
	}
	if got != referenceHash {
		t.Fatalf("Hash = %q, want the reference %q", got, referenceHash)
	}
}

func TestVerifyAcrossParameterChange(t *testing.T) {
	old := Hasher{Params: FastParams()}
	enc, err := old.Hash("Sample1%")
	if err != nil {
		t.Fatal(err)
	}
	current := Hasher{Params: ArgonParams{Memory: 256, Time: 3, Threads: 2, SaltLen: 16, KeyLen: 32}}
	tests := []struct {
		pw   string
		want bool
	}{
		{"Sample1%", true},
		{"Sample1^", false},
		{"Sample1%x", false},
		{"", false},
	}
	for _, tt := range tests {
		if got, err := current.Verify(enc, tt.pw); err != nil || got != tt.want {
			t.Errorf("Verify(%q) = %v, %v; want %v", tt.pw, got, err, tt.want)
		}
	}
	if !current.NeedsRehash(enc) {
		t.Error("NeedsRehash = false for a hash with older parameters")
	}
	if old.NeedsRehash(enc) {
		t.Error("NeedsRehash = true under the parameters that made the hash")
	}
}

func TestHashFailsWithoutRandomness(t *testing.T) {
	h := Hasher{Params: FastParams(), Rand: bytes.NewReader([]byte{1, 2, 3})}
	if _, err := h.Hash("Sample1%"); err == nil {
		t.Fatal("Hash succeeded with 3 random bytes for a 16-byte salt")
	}
}

func TestVerifyRejectsMalformed(t *testing.T) {
	const salt, key = "c29tZXNhbHQ", "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	tests := []struct{ name, enc string }{
		{"empty", ""},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", "$argon2i$v=19$m=65536,t=2,p=1$" + salt + "$" + key},
		{"old version", "$argon2id$v=16$m=65536,t=2,p=1$" + salt + "$" + key},
		{"missing part", "$argon2id$v=19$m=65536,t=2,p=1$" + key},
		{"parameters reordered", "$argon2id$v=19$t=2,m=65536,p=1$" + salt + "$" + key},
		{"trailing garbage", "$argon2id$v=19$m=65536,t=2,p=1x$" + salt + "$" + key},
		{"zero threads", "$argon2id$v=19$m=65536,t=2,p=0$" + salt + "$" + key},
		{"zero time", "$argon2id$v=19$m=65536,t=0,p=1$" + salt + "$" + key},
		{"huge memory", "$argon2id$v=19$m=4194304,t=2,p=1$" + salt + "$" + key},
		{"huge time", "$argon2id$v=19$m=65536,t=1000,p=1$" + salt + "$" + key},
		{"memory below 8 per lane", "$argon2id$v=19$m=15,t=2,p=2$" + salt + "$" + key},
		{"padded base64", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "=$" + key},
		{"short key", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$AAAA"},
		{"bad base64", "$argon2id$v=19$m=65536,t=2,p=1$" + salt + "$!!!!"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := Hasher{}.Verify(tt.enc, "password")
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("Verify = %v, %v; want false, ErrMalformedHash", ok, err)
			}
		})
	}
}
