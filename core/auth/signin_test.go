package auth

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/clocktest"
	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/store/storetest"
)

const (
	annPassword = "Sample1%"
	newPassword = "Fresh9&Kit"
)

// annOnly is a service whose directory holds one member, ann (id 10), with
// annPassword set now.
func annOnly(t *testing.T, db *bun.DB) (*Service, *clocktest.Clock, *fakeDirectory) {
	t.Helper()
	clock := newClock()
	dir := newDirectory()
	insertMember(t, db, 10, "ann@example.com")
	dir.add(Credentials{MemberID: 10, Email: "ann@example.com", Enabled: true, PasswordHash: fastHash(t, annPassword), PasswordChangedAt: ptr(clock.Now())})
	return newService(db, clock, dir), clock, dir
}

func newService(db *bun.DB, clock *clocktest.Clock, dir Directory) *Service {
	return &Service{
		Directory: dir,
		Tokens:    &Tokens{DB: db, Now: clock.Now},
		Hasher:    Hasher{Params: FastParams()},
		Throttle:  &Throttle{DB: db, Now: clock.Now},
		Now:       clock.Now,
	}
}

func fastHash(t testing.TB, pw string) string {
	t.Helper()
	h, err := Hasher{Params: FastParams()}.Hash(pw)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func ptr[T any](v T) *T { return &v }

func lastReason(t *testing.T, db *bun.DB) string {
	t.Helper()
	var reason string
	if err := db.NewRaw("SELECT reason FROM sign_in_attempts ORDER BY id DESC LIMIT 1").Scan(context.Background(), &reason); err != nil {
		t.Fatal(err)
	}
	return reason
}

func TestSignIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clock := newClock()
		now := clock.Now()
		day := 24 * time.Hour
		dir := newDirectory()
		dir.policy = Policy{MinStrength: "good", MaxAgeDays: 90, ExpiryNoticeDays: 14}
		hash := fastHash(t, annPassword)
		members := []Credentials{
			{MemberID: 10, Email: "ann@example.com", Role: "technician", Enabled: true, PasswordHash: hash, PasswordChangedAt: ptr(now.Add(-day))},
			{MemberID: 11, Email: "dis@example.com", Role: "technician", Enabled: false, PasswordHash: hash, PasswordChangedAt: ptr(now)},
			{MemberID: 12, Email: "tech@example.com", Role: "technician", Enabled: true, PasswordHash: hash, PasswordChangedAt: ptr(now)},
			{MemberID: 13, Email: "must@example.com", Role: "admin", Enabled: true, PasswordHash: hash, PasswordChangedAt: ptr(now), MustChangePassword: true},
			{MemberID: 14, Email: "old@example.com", Role: "admin", Enabled: true, PasswordHash: hash, PasswordChangedAt: ptr(now.Add(-91 * day))},
			{MemberID: 15, Email: "soon@example.com", Role: "master", Enabled: true, PasswordHash: hash, PasswordChangedAt: ptr(now.Add(-80 * day))},
			{MemberID: 16, Email: "nopw@example.com", Role: "technician", Enabled: true},
			{MemberID: 17, Email: "undated@example.com", Role: "technician", Enabled: true, PasswordHash: hash},
		}
		for _, m := range members {
			insertMember(t, db, m.MemberID, m.Email)
			dir.add(m)
		}
		dir.rules[12] = IPRules{Default: IPDeny, Exceptions: []IPException{{Network: "5.5.5.5", Mask: "255.255.255.255"}}}
		svc := newService(db, clock, dir)

		type want struct {
			member     int64
			restricted bool
			expired    bool
			expiresAt  *time.Time
			notice     bool
			ttl        time.Duration
		}
		tests := []struct {
			name   string
			req    SignInRequest
			want   *want // nil: refused
			kind   fault.Kind
			code   string
			reason string
			ip     string
		}{
			{name: "web", req: SignInRequest{Email: "ann@example.com", Password: annPassword, Kind: KindWeb, TTL: time.Hour},
				want: &want{member: 10, expiresAt: ptr(now.Add(89 * day)), ttl: time.Hour}, reason: ReasonSignedIn},
			{name: "email in any case, default api lifetime", req: SignInRequest{Email: " Ann@Example.COM ", Password: annPassword, Kind: KindAPI},
				want: &want{member: 10, expiresAt: ptr(now.Add(89 * day)), ttl: DefaultAPITTL}, reason: ReasonSignedIn},
			{name: "wrong password", req: SignInRequest{Email: "ann@example.com", Password: "Sample1^", Kind: KindWeb},
				kind: fault.Unauthorized, code: "invalid_credentials", reason: ReasonWrongPass},
			{name: "password is case sensitive", req: SignInRequest{Email: "ann@example.com", Password: "sAMPLE1%", Kind: KindWeb},
				kind: fault.Unauthorized, code: "invalid_credentials", reason: ReasonWrongPass},
			{name: "unknown email", req: SignInRequest{Email: "who@example.com", Password: annPassword, Kind: KindWeb},
				kind: fault.Unauthorized, code: "invalid_credentials", reason: ReasonUnknownEmail},
			{name: "no password set", req: SignInRequest{Email: "nopw@example.com", Password: "", Kind: KindWeb},
				kind: fault.Unauthorized, code: "invalid_credentials", reason: ReasonNoPassword},
			{name: "disabled, right password", req: SignInRequest{Email: "dis@example.com", Password: annPassword, Kind: KindWeb},
				kind: fault.Forbidden, code: "member_disabled", reason: ReasonDisabled},
			{name: "disabled, wrong password reveals nothing", req: SignInRequest{Email: "dis@example.com", Password: "x", Kind: KindWeb},
				kind: fault.Unauthorized, code: "invalid_credentials", reason: ReasonWrongPass},
			{name: "IP allowed", ip: "5.5.5.5", req: SignInRequest{Email: "tech@example.com", Password: annPassword, Kind: KindWeb},
				want: &want{member: 12, expiresAt: ptr(now.Add(90 * day)), ttl: DefaultWebTTL}, reason: ReasonSignedIn},
			{name: "IPv4-mapped IP allowed", ip: "::ffff:5.5.5.5", req: SignInRequest{Email: "tech@example.com", Password: annPassword, Kind: KindCompat},
				want: &want{member: 12, expiresAt: ptr(now.Add(90 * day)), ttl: DefaultCompatTTL}, reason: ReasonSignedIn},
			{name: "IP not allowed", ip: "5.5.5.6", req: SignInRequest{Email: "tech@example.com", Password: annPassword, Kind: KindWeb},
				kind: fault.Forbidden, code: "ip_not_allowed", reason: ReasonIPNotAllowed},
			{name: "IP rules do not apply", ip: "5.5.5.6", req: SignInRequest{Email: "ann@example.com", Password: annPassword, Kind: KindWeb},
				want: &want{member: 10, expiresAt: ptr(now.Add(89 * day)), ttl: DefaultWebTTL}, reason: ReasonSignedIn},
			{name: "must change password", req: SignInRequest{Email: "must@example.com", Password: annPassword, Kind: KindWeb},
				want: &want{member: 13, restricted: true, expiresAt: ptr(now.Add(90 * day)), ttl: DefaultWebTTL}, reason: ReasonSignedIn},
			{name: "expired password", req: SignInRequest{Email: "old@example.com", Password: annPassword, Kind: KindWeb},
				want: &want{member: 14, restricted: true, expired: true, expiresAt: ptr(now.Add(-day)), ttl: DefaultWebTTL}, reason: ReasonSignedIn},
			{name: "expiry notice", req: SignInRequest{Email: "soon@example.com", Password: annPassword, Kind: KindWeb},
				want: &want{member: 15, expiresAt: ptr(now.Add(10 * day)), notice: true, ttl: DefaultWebTTL}, reason: ReasonSignedIn},
			{name: "password of unknown age", req: SignInRequest{Email: "undated@example.com", Password: annPassword, Kind: KindWeb},
				want: &want{member: 17, restricted: true, expired: true, ttl: DefaultWebTTL}, reason: ReasonSignedIn},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if tt.ip == "" {
					tt.ip = "203.0.113.9"
				}
				tt.req.IP = netip.MustParseAddr(tt.ip)
				res, err := svc.SignIn(ctx, tt.req)
				if got := lastReason(t, db); got != tt.reason {
					t.Errorf("recorded reason = %q, want %q", got, tt.reason)
				}
				if tt.want == nil {
					assertFault(t, err, tt.kind, tt.code)
					if res.Plaintext != "" {
						t.Error("a refused sign-in returned a token")
					}
					return
				}
				if err != nil {
					t.Fatalf("SignIn: %v", err)
				}
				w := tt.want
				tok, err := svc.Tokens.Authenticate(ctx, res.Plaintext)
				if err != nil || tok.ID != res.Token.ID || tok.MemberID != w.member || tok.Kind != tt.req.Kind || tok.Restricted != w.restricted {
					t.Errorf("token = %+v, %v; want member %d kind %s restricted %v", tok, err, w.member, tt.req.Kind, w.restricted)
				}
				if got := res.Token.ExpiresAt.Sub(res.Token.CreatedAt); got != w.ttl {
					t.Errorf("token lifetime = %v, want %v", got, w.ttl)
				}
				if res.MustChangePassword != w.restricted || res.PasswordExpired != w.expired || res.ExpiryNotice != w.notice {
					t.Errorf("must change %v, expired %v, notice %v; want %v, %v, %v",
						res.MustChangePassword, res.PasswordExpired, res.ExpiryNotice, w.restricted, w.expired, w.notice)
				}
				if (res.PasswordExpiresAt == nil) != (w.expiresAt == nil) ||
					(w.expiresAt != nil && !res.PasswordExpiresAt.Equal(*w.expiresAt)) {
					t.Errorf("PasswordExpiresAt = %v, want %v", res.PasswordExpiresAt, w.expiresAt)
				}
			})
		}
	})
}

func TestSignInRefusesBadRequest(t *testing.T) {
	svc := &Service{} // fails before any store is touched
	_, err := svc.SignIn(context.Background(), SignInRequest{Email: "a@b.c", Password: "x", Kind: "cookie"})
	assertField(t, err, "kind", "must be one of: api, web, compat")
	_, err = svc.SignIn(context.Background(), SignInRequest{Email: "a@b.c", Password: "x", Kind: KindWeb, TTL: -time.Second})
	assertField(t, err, "ttl", "must be positive")
}

func TestSignInUnknownEmailLooksLikeWrongPassword(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		dir := newDirectory()
		insertMember(t, db, 10, "ann@example.com")
		prod := Hasher{Params: DefaultParams()}
		hash, err := prod.Hash(annPassword)
		if err != nil {
			t.Fatal(err)
		}
		dir.add(Credentials{MemberID: 10, Email: "ann@example.com", Enabled: true, PasswordHash: hash, PasswordChangedAt: ptr(time.Now())})
		svc := newService(db, newClock(), dir)
		svc.Hasher = prod
		svc.Throttle.Limits = ThrottleLimits{Window: time.Minute, PerEmail: 100, PerIP: 100}

		timed := func(email string) (time.Duration, error) {
			best := time.Hour
			var err error
			for range 3 {
				start := time.Now()
				_, err = svc.SignIn(ctx, SignInRequest{Email: email, Password: "Wrong1%x", Kind: KindWeb, IP: ipA})
				best = min(best, time.Since(start))
			}
			return best, err
		}
		wrongTime, wrongErr := timed("ann@example.com")
		unknownTime, unknownErr := timed("nobody@example.com")
		w := assertFault(t, wrongErr, fault.Unauthorized, "invalid_credentials")
		u := assertFault(t, unknownErr, fault.Unauthorized, "invalid_credentials")
		if w.Error() != u.Error() {
			t.Errorf("errors differ: %q vs %q", w.Error(), u.Error())
		}
		if unknownTime < wrongTime/2 {
			t.Errorf("unknown email took %v, wrong password %v: the difference tells which emails exist", unknownTime, wrongTime)
		}
	})
}

func TestSignInLockout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		svc, clock, _ := annOnly(t, db)
		req := func(pw string) SignInRequest {
			return SignInRequest{Email: "ann@example.com", Password: pw, Kind: KindWeb, IP: ipA}
		}
		for i := range 5 {
			_, err := svc.SignIn(ctx, req("Guess1%"+string(rune('a'+i))))
			assertFault(t, err, fault.Unauthorized, "invalid_credentials")
			clock.Advance(time.Second)
		}
		res, err := svc.SignIn(ctx, req(annPassword))
		fe := assertFault(t, err, fault.TooMany, "too_many_attempts")
		if fe.RetryAfterSeconds != 15*60-5 {
			t.Errorf("RetryAfterSeconds = %d, want %d", fe.RetryAfterSeconds, 15*60-5)
		}
		if res.Plaintext != "" || lastReason(t, db) != ReasonThrottled {
			t.Errorf("locked sign-in: token %q, reason %q", res.Plaintext, lastReason(t, db))
		}
		if list, _ := svc.Tokens.List(ctx, 10); len(list) != 0 {
			t.Fatalf("tokens issued while locked: %+v", list)
		}
		clock.Advance(15*time.Minute - 5*time.Second) // the first guess leaves the window
		if _, err := svc.SignIn(ctx, req(annPassword)); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
}

// TestChangePasswordIsThrottled: a wrong current password counts against
// the account's sign-in limit (5 in 15 minutes), so a stolen token cannot
// be used to guess the password; a right one is not a failure; once over,
// neither changing the password nor signing in is allowed until the
// window passes.
func TestChangePasswordIsThrottled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		svc, clock, dir := annOnly(t, db)
		tok, err := svc.SignIn(ctx, SignInRequest{Email: "ann@example.com", Password: annPassword, Kind: KindWeb, IP: ipA})
		if err != nil {
			t.Fatal(err)
		}
		change := func(current, next string) error {
			clock.Advance(time.Second)
			return svc.ChangePassword(ctx, 10, tok.Token.ID, ipB, current, next)
		}
		for i := range 4 {
			assertField(t, change("Guess1%"+string(rune('a'+i)), newPassword), "current_password", "is wrong")
		}
		// The right password with a weak new one: refused, but not a guess.
		assertField(t, change(annPassword, "password"), "new_password", "is too weak: it is weak, the policy requires good"+weakAdvice)
		if got := lastReason(t, db); got != ReasonVerified {
			t.Fatalf("a right current password was recorded as %q", got)
		}
		assertField(t, change("Guess1%e", newPassword), "current_password", "is wrong")
		// Five wrong: the sixth attempt is refused, even with the right password.
		assertFault(t, change(annPassword, newPassword), fault.TooMany, "too_many_attempts")
		_, err = svc.SignIn(ctx, SignInRequest{Email: "ann@example.com", Password: annPassword, Kind: KindWeb, IP: ipA})
		assertFault(t, err, fault.TooMany, "too_many_attempts")
		if dir.setCalls != 0 {
			t.Fatalf("a refused change stored a password (%d calls)", dir.setCalls)
		}
		clock.Advance(15 * time.Minute)
		if err := change(annPassword, newPassword); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
}

func TestChangePassword(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clock := newClock()
		dir := newDirectory()
		insertMember(t, db, 10, "ann@example.com")
		insertMember(t, db, 11, "bob@example.com")
		dir.add(Credentials{MemberID: 10, Email: "ann@example.com", Enabled: true, PasswordHash: fastHash(t, annPassword),
			PasswordChangedAt: ptr(clock.Now()), MustChangePassword: true})
		dir.add(Credentials{MemberID: 11, Email: "bob@example.com", Enabled: true, PasswordHash: fastHash(t, annPassword), PasswordChangedAt: ptr(clock.Now())})
		svc := newService(db, clock, dir)
		signIn := func(email, pw string) (SignInResult, error) {
			return svc.SignIn(ctx, SignInRequest{Email: email, Password: pw, Kind: KindWeb, IP: ipA})
		}
		other, err := signIn("ann@example.com", annPassword)
		if err != nil {
			t.Fatal(err)
		}
		current, err := signIn("ann@example.com", annPassword)
		if err != nil || !current.Token.Restricted {
			t.Fatalf("sign-in = %+v, %v; want a restricted token", current.Token, err)
		}
		bob, _ := signIn("bob@example.com", annPassword)

		tests := []struct {
			name, current, next, field, why string
		}{
			{"wrong current", "Sample1^", newPassword, "current_password", "is wrong"},
			{"same as current", annPassword, annPassword, "new_password", "must differ from the current password"},
			{"too short", annPassword, "Ab1%", "new_password", "must be at least 8 characters"},
			{"too weak", annPassword, "password", "new_password", "is too weak: it is weak, the policy requires good" + weakAdvice},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				err := svc.ChangePassword(ctx, 10, current.Token.ID, ipA, tt.current, tt.next)
				assertField(t, err, tt.field, tt.why)
			})
		}
		if dir.setCalls != 0 {
			t.Fatalf("a refused change stored a password (%d calls)", dir.setCalls)
		}

		clock.Advance(time.Hour)
		if err := svc.ChangePassword(ctx, 10, current.Token.ID, ipA, annPassword, newPassword); err != nil {
			t.Fatal(err)
		}
		ann := dir.get(10)
		if ok, _ := svc.Hasher.Verify(ann.PasswordHash, newPassword); !ok || ann.MustChangePassword ||
			ann.PasswordChangedAt == nil || !ann.PasswordChangedAt.Equal(clock.Now().Truncate(time.Microsecond)) {
			t.Fatalf("stored member = %+v; want the new hash, changed now, no forced change", ann)
		}
		tok, err := svc.Tokens.Authenticate(ctx, current.Plaintext)
		if err != nil || tok.Restricted {
			t.Errorf("current token = %+v, %v; want live and unrestricted", tok, err)
		}
		_, err = svc.Tokens.Authenticate(ctx, other.Plaintext)
		assertFault(t, err, fault.Unauthorized, "invalid_token")
		if _, err := svc.Tokens.Authenticate(ctx, bob.Plaintext); err != nil {
			t.Errorf("another member's token was revoked: %v", err)
		}
		_, err = signIn("ann@example.com", annPassword)
		assertFault(t, err, fault.Unauthorized, "invalid_credentials")
		res, err := signIn("ann@example.com", newPassword)
		if err != nil || res.Token.Restricted {
			t.Fatalf("sign-in with the new password = %+v, %v; want an unrestricted token", res.Token, err)
		}
		assertFault(t, svc.ChangePassword(ctx, 99, 0, ipA, annPassword, newPassword), fault.NotFound, "member_not_found")
	})
}

func TestSetPasswordByAdmin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		svc, _, dir := annOnly(t, db)
		dir.policy = Policy{MinStrength: "complex"}
		before, err := svc.SignIn(ctx, SignInRequest{Email: "ann@example.com", Password: annPassword, Kind: KindAPI, IP: ipA})
		if err != nil {
			t.Fatal(err)
		}
		err = svc.SetPasswordByAdmin(ctx, 10, "Sampla12")
		assertField(t, err, "password", "is too weak: it is good, the policy requires complex"+weakAdvice)

		if err := svc.SetPasswordByAdmin(ctx, 10, newPassword); err != nil {
			t.Fatal(err)
		}
		if ann := dir.get(10); !ann.MustChangePassword {
			t.Error("a password set by an admin is not marked for change")
		}
		_, err = svc.Tokens.Authenticate(ctx, before.Plaintext)
		assertFault(t, err, fault.Unauthorized, "invalid_token")
		res, err := svc.SignIn(ctx, SignInRequest{Email: "ann@example.com", Password: newPassword, Kind: KindWeb, IP: ipA})
		if err != nil || !res.Token.Restricted || !res.MustChangePassword {
			t.Fatalf("sign-in after admin reset = %+v, %v; want a restricted token", res, err)
		}
	})
}

func TestHashForNewMember(t *testing.T) {
	dir := newDirectory()
	svc := &Service{Directory: dir, Hasher: Hasher{Params: FastParams()}}
	_, err := svc.HashForNewMember(context.Background(), "samplepw")
	assertField(t, err, "password", "is too weak: it is weak, the policy requires good"+weakAdvice)
	hash, err := svc.HashForNewMember(context.Background(), annPassword)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := svc.Hasher.Verify(hash, annPassword); !ok || err != nil {
		t.Fatalf("Verify(new member hash) = %v, %v", ok, err)
	}
}

func TestSignInUpgradesOldHashes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clock := newClock()
		dir := newDirectory()
		insertMember(t, db, 10, "ann@example.com")
		old := Hasher{Params: ArgonParams{Memory: 32, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}}
		oldHash, _ := old.Hash(annPassword)
		changed := clock.Now().Add(-48 * time.Hour)
		dir.add(Credentials{MemberID: 10, Email: "ann@example.com", Enabled: true, PasswordHash: oldHash, PasswordChangedAt: &changed})
		svc := newService(db, clock, dir)
		if _, err := svc.SignIn(ctx, SignInRequest{Email: "ann@example.com", Password: annPassword, Kind: KindWeb, IP: ipA}); err != nil {
			t.Fatal(err)
		}
		ann := dir.get(10)
		if ann.PasswordHash == oldHash || svc.Hasher.NeedsRehash(ann.PasswordHash) {
			t.Fatalf("hash not upgraded: %q", ann.PasswordHash)
		}
		if ok, _ := svc.Hasher.Verify(ann.PasswordHash, annPassword); !ok {
			t.Fatal("upgraded hash does not verify")
		}
		if !ann.PasswordChangedAt.Equal(changed) || ann.MustChangePassword {
			t.Fatalf("upgrade changed the password's age or flags: %+v", ann)
		}
	})
}

func TestServiceNeverLogsSecrets(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *bun.DB) {
		ctx := context.Background()
		clock := newClock()
		dir := newDirectory()
		insertMember(t, db, 10, "ann@example.com")
		hash := fastHash(t, annPassword)
		dir.add(Credentials{MemberID: 10, Email: "ann@example.com", Enabled: true, PasswordHash: hash, PasswordChangedAt: ptr(clock.Now())})
		var buf bytes.Buffer
		svc := newService(db, clock, dir)
		svc.Log = hclog.New(&hclog.LoggerOptions{Output: &buf, Level: hclog.Trace})

		res, err := svc.SignIn(ctx, SignInRequest{Email: "ann@example.com", Password: annPassword, Kind: KindAPI, IP: ipA})
		if err != nil {
			t.Fatal(err)
		}
		svc.SignIn(ctx, SignInRequest{Email: "ann@example.com", Password: "Typo1%ab", Kind: KindWeb, IP: ipA}) //nolint:errcheck
		svc.SignIn(ctx, SignInRequest{Email: "Sample1%@example.com", Password: "x", Kind: KindWeb, IP: ipA})   //nolint:errcheck
		if err := svc.ChangePassword(ctx, 10, res.Token.ID, ipA, annPassword, newPassword); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if !strings.Contains(out, "signed in") || !strings.Contains(out, "sign-in refused") || !strings.Contains(out, "password changed") {
			t.Fatalf("expected sign-in events in the log, got:\n%s", out)
		}
		for _, secret := range []string{annPassword, "Typo1%ab", newPassword, res.Plaintext, hash, hashToken(res.Plaintext), dir.get(10).PasswordHash} {
			if strings.Contains(out, secret) {
				t.Errorf("log contains a secret %q:\n%s", secret, out)
			}
		}
	})
}
