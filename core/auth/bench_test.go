package auth

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/store/storetest"
)

// BenchmarkSignIn measures successful sign-ins end to end (throttle check,
// argon2id verification with the production parameters, token issue and
// attempt record): the rate at which one core can hand out tokens.
func BenchmarkSignIn(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, db *bun.DB) {
		ctx := context.Background()
		insertMember(b, db, 10, "ann@example.com")
		hasher := Hasher{Params: DefaultParams()}
		hash, err := hasher.Hash(annPassword)
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		dir := newDirectory()
		dir.add(Credentials{MemberID: 10, Email: "ann@example.com", Enabled: true, PasswordHash: hash, PasswordChangedAt: &now})
		svc := &Service{Directory: dir, Tokens: NewTokens(db), Hasher: hasher, Throttle: NewThrottle(db)}
		req := SignInRequest{Email: "ann@example.com", Password: annPassword, Kind: KindAPI, IP: netip.MustParseAddr("203.0.113.1")}
		for b.Loop() {
			if _, err := svc.SignIn(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkTokenAuthenticate measures the per-request check of a bearer
// token among 1000 live ones, in the steady state where last_used_at is
// fresh and the check is a single indexed read.
func BenchmarkTokenAuthenticate(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, db *bun.DB) {
		ctx := context.Background()
		insertMember(b, db, 10, "ann@example.com")
		tokens := NewTokens(db)
		plain := make([]string, 1000)
		for i := range plain {
			p, _, err := tokens.Issue(ctx, 10, KindAPI, time.Hour, false, netip.Addr{})
			if err != nil {
				b.Fatal(err)
			}
			if _, err := tokens.Authenticate(ctx, p); err != nil {
				b.Fatal(err)
			}
			plain[i] = p
		}
		i := 0
		for b.Loop() {
			if _, err := tokens.Authenticate(ctx, plain[i%len(plain)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// BenchmarkHash is the cost of one production argon2id hash, for scale.
func BenchmarkHash(b *testing.B) {
	h := Hasher{Params: DefaultParams()}
	for b.Loop() {
		if _, err := h.Hash(annPassword); err != nil {
			b.Fatal(err)
		}
	}
}
