package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/clocktest"
	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/store/storetest"
)

func newTokens(db *bun.DB, clock *clocktest.Clock) *Tokens {
	return &Tokens{DB: db, Now: clock.Now}
}

func TestTokenIssueStoresOnlyTheHash(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		insertMember(t, db, 10, "ann@example.com")
		clock := newClock()
		tokens := newTokens(db, clock)
		tokens.Rand = bytes.NewReader(make([]byte, 64))

		plain, tok, err := tokens.Issue(ctx, 10, KindAPI, time.Hour, false, netip.MustParseAddr("::ffff:5.5.5.5"))
		if err != nil {
			t.Fatal(err)
		}
		if want := "tth_" + strings.Repeat("A", 43); plain != want {
			t.Errorf("plaintext = %q, want %q (32 zero bytes, base64url, api prefix)", plain, want)
		}
		now := clock.Now().Truncate(time.Microsecond)
		want := Token{ID: tok.ID, MemberID: 10, Kind: KindAPI, ClientIP: "5.5.5.5", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if tok.ID == 0 || !sameToken(tok, want) {
			t.Errorf("token = %+v, want %+v", tok, want)
		}

		webPlain, _, err := tokens.Issue(ctx, 10, KindWeb, time.Hour, false, netip.Addr{})
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(webPlain, APITokenPrefix) || len(webPlain) != 43 {
			t.Errorf("web token %q: want 43 base64url characters without the api prefix", webPlain)
		}

		var stored []string
		if err := db.NewRaw("SELECT token_hash FROM auth_tokens ORDER BY id").Scan(ctx, &stored); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(plain))
		if len(stored) != 2 || stored[0] != hex.EncodeToString(sum[:]) {
			t.Fatalf("stored hashes = %v, want first = sha256(plaintext)", stored)
		}
		for _, s := range stored {
			if strings.Contains(s, plain) || strings.Contains(s, webPlain) {
				t.Fatal("a plaintext token is stored")
			}
		}
	})
}

func TestTokenIssueRefusesBadInput(t *testing.T) {
	tokens := &Tokens{} // never reaches the database
	_, _, err := tokens.Issue(context.Background(), 1, "cookie", time.Hour, false, netip.Addr{})
	assertField(t, err, "kind", "must be one of: api, web, compat")
	_, _, err = tokens.Issue(context.Background(), 1, KindWeb, 0, false, netip.Addr{})
	assertField(t, err, "ttl", "must be positive")
}

func TestTokenAuthenticate(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		insertMember(t, db, 10, "ann@example.com")
		clock := newClock()
		tokens := newTokens(db, clock)
		live, liveTok, _ := tokens.Issue(ctx, 10, KindWeb, 2*time.Hour, true, netip.MustParseAddr("2001:db8::1"))
		short, _, _ := tokens.Issue(ctx, 10, KindCompat, time.Minute, false, netip.Addr{})
		revoked, revokedTok, _ := tokens.Issue(ctx, 10, KindAPI, 2*time.Hour, false, netip.Addr{})
		if err := tokens.Revoke(ctx, revokedTok.ID, 10); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Minute) // short is now exactly at its expiry

		tests := []struct {
			name      string
			plaintext string
			wantID    int64 // 0: invalid_token
		}{
			{"live", live, liveTok.ID},
			{"expired at the instant", short, 0},
			{"revoked", revoked, 0},
			{"unknown", "tth_" + strings.Repeat("B", 43), 0},
			{"empty", "", 0},
			{"oversized", strings.Repeat("x", 10000), 0},
			{"live but altered", live[:len(live)-1] + "Z", 0},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := tokens.Authenticate(ctx, tt.plaintext)
				if tt.wantID == 0 {
					assertFault(t, err, fault.Unauthorized, "invalid_token")
					return
				}
				if err != nil || got.ID != tt.wantID || got.MemberID != 10 || !got.Restricted || got.ClientIP != "2001:db8::1" {
					t.Fatalf("Authenticate = %+v, %v; want token %d of member 10, restricted", got, err, tt.wantID)
				}
			})
		}
	})
}

func TestTokenLastUsed(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		insertMember(t, db, 10, "ann@example.com")
		clock := newClock()
		tokens := newTokens(db, clock)
		plain, tok, _ := tokens.Issue(ctx, 10, KindAPI, 24*time.Hour, false, netip.Addr{})
		if tok.LastUsedAt != nil {
			t.Fatalf("new token has last_used_at %v", tok.LastUsedAt)
		}
		first := clock.Now().Add(time.Second)
		steps := []struct {
			advance time.Duration
			want    time.Time // stored last_used_at afterwards
		}{
			{time.Second, first},                  // first use is written
			{59 * time.Second, first},             // within the resolution: not rewritten
			{time.Second, first.Add(time.Minute)}, // a minute after the stored value
		}
		for i, s := range steps {
			clock.Advance(s.advance)
			got, err := tokens.Authenticate(ctx, plain)
			if err != nil {
				t.Fatal(err)
			}
			want := s.want.Truncate(time.Microsecond)
			if got.LastUsedAt == nil || !got.LastUsedAt.Equal(want) {
				t.Fatalf("step %d: Authenticate last_used_at = %v, want %v", i, got.LastUsedAt, want)
			}
			list, err := tokens.List(ctx, 10)
			if err != nil || len(list) != 1 || list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(want) {
				t.Fatalf("step %d: stored last_used_at = %+v, %v; want %v", i, list, err, want)
			}
		}
	})
}

func TestTokenRevokeListUnrestrict(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		insertMember(t, db, 10, "ann@example.com")
		insertMember(t, db, 11, "bob@example.com")
		clock := newClock()
		tokens := newTokens(db, clock)
		var ids []int64
		for range 4 {
			_, tok, err := tokens.Issue(ctx, 10, KindWeb, time.Hour, true, netip.Addr{})
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, tok.ID)
			clock.Advance(time.Second)
		}
		_, expiring, _ := tokens.Issue(ctx, 10, KindWeb, time.Second, false, netip.Addr{})
		bobPlain, bob, _ := tokens.Issue(ctx, 11, KindWeb, time.Hour, false, netip.Addr{})
		clock.Advance(time.Second) // expiring is gone

		if got := listIDs(t, tokens, 10); !equalIDs(got, []int64{ids[3], ids[2], ids[1], ids[0]}) {
			t.Fatalf("List = %v, want newest first without the expired %d", got, expiring.ID)
		}

		assertFault(t, tokens.Revoke(ctx, ids[0], 11), fault.NotFound, "token_not_found") // not bob's
		if err := tokens.Revoke(ctx, ids[0], 10); err != nil {
			t.Fatal(err)
		}
		assertFault(t, tokens.Revoke(ctx, ids[0], 10), fault.NotFound, "token_not_found") // already revoked

		n, err := tokens.RevokeAll(ctx, 10, ids[2])
		if err != nil || n != 3 {
			t.Fatalf("RevokeAll = %d, %v; want 3 (ids %d, %d and the expired %d)", n, err, ids[1], ids[3], expiring.ID)
		}
		if got := listIDs(t, tokens, 10); !equalIDs(got, []int64{ids[2]}) {
			t.Fatalf("after RevokeAll: List = %v, want [%d]", got, ids[2])
		}
		if _, err := tokens.Authenticate(ctx, bobPlain); err != nil {
			t.Fatalf("bob's token was touched: %v", err)
		}

		assertFault(t, tokens.Unrestrict(ctx, ids[2], 11), fault.NotFound, "token_not_found")
		assertFault(t, tokens.Unrestrict(ctx, ids[1], 10), fault.NotFound, "token_not_found") // revoked
		if err := tokens.Unrestrict(ctx, ids[2], 10); err != nil {
			t.Fatal(err)
		}
		list, _ := tokens.List(ctx, 10)
		if len(list) != 1 || list[0].Restricted {
			t.Fatalf("after Unrestrict: %+v, want one unrestricted token", list)
		}

		n, err = tokens.RevokeAll(ctx, 11, 0)
		if err != nil || n != 1 {
			t.Fatalf("RevokeAll(bob, none) = %d, %v; want 1", n, err)
		}
		if got := listIDs(t, tokens, 11); len(got) != 0 {
			t.Fatalf("bob still has tokens %v (first was %d)", got, bob.ID)
		}
	})
}

func listIDs(t *testing.T, tokens *Tokens, memberID int64) []int64 {
	t.Helper()
	list, err := tokens.List(context.Background(), memberID)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]int64, len(list))
	for i, tok := range list {
		ids[i] = tok.ID
	}
	return ids
}

func equalIDs(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func sameToken(a, b Token) bool {
	return a.ID == b.ID && a.MemberID == b.MemberID && a.Kind == b.Kind && a.Restricted == b.Restricted &&
		a.ClientIP == b.ClientIP && a.CreatedAt.Equal(b.CreatedAt) && a.ExpiresAt.Equal(b.ExpiresAt) &&
		(a.LastUsedAt == nil) == (b.LastUsedAt == nil)
}
