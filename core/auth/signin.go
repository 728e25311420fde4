package auth

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/tetherhq/tether/core/fault"
)

// Credentials is what sign-in needs to know about a member.
type Credentials struct {
	MemberID           int64
	Email              string
	Role               string // master | admin | technician
	Enabled            bool
	PasswordHash       string // "" when the member has no password
	PasswordChangedAt  *time.Time
	MustChangePassword bool
}

// Directory is auth's view of the organisation (members live in core/org,
// which auth must not import).
type Directory interface {
	// MemberByEmail finds a member by lowercased email; a NotFound fault if none.
	MemberByEmail(ctx context.Context, email string) (Credentials, error)
	// MemberByID finds a member by id; a NotFound fault if none.
	MemberByID(ctx context.Context, memberID int64) (Credentials, error)
	PasswordPolicy(ctx context.Context) (Policy, error)
	// IPRulesFor returns the IP rules of the member's technician group;
	// applies is false for members no rules restrict.
	IPRulesFor(ctx context.Context, memberID int64) (rules IPRules, applies bool, err error)
	SetPassword(ctx context.Context, memberID int64, hash string, changedAt time.Time, mustChange bool) error
}

// Default token lifetimes when a sign-in request names none.
const (
	DefaultWebTTL    = 12 * time.Hour
	DefaultAPITTL    = 30 * 24 * time.Hour
	DefaultCompatTTL = time.Hour
)

// SignInRequest is one email/password sign-in. A zero TTL means the kind's default.
type SignInRequest struct {
	Email    string
	Password string
	IP       netip.Addr
	Kind     string // KindAPI, KindWeb or KindCompat
	TTL      time.Duration
}

// SignInResult is a successful sign-in.
type SignInResult struct {
	Token     Token
	Plaintext string // the token secret; shown once, never stored
	// MustChangePassword means the token is restricted to changing the
	// password, because an admin set it or it has expired.
	MustChangePassword bool
	PasswordExpired    bool
	PasswordExpiresAt  *time.Time // nil when the policy sets no maximum age
	ExpiryNotice       bool       // the password expires within the policy's notice window
}

// Service signs members in and changes their passwords.
type Service struct {
	Directory Directory
	Tokens    *Tokens
	Hasher    Hasher
	Throttle  *Throttle
	Now       func() time.Time // nil means time.Now
	Log       hclog.Logger     // nil means no logging

	dummyOnce sync.Once
	dummy     string
	dummyErr  error
}

func (s *Service) now() time.Time { return clockNow(s.Now) }

func (s *Service) log() hclog.Logger {
	if s.Log == nil {
		return hclog.NewNullLogger()
	}
	return s.Log
}

func invalidCredentials() error {
	return fault.New(fault.Unauthorized, "invalid_credentials", "The email address or password is wrong.")
}

// verifyDummy spends the time of a real verification, so that unknown
// emails cannot be told from wrong passwords by the response time.
func (s *Service) verifyDummy(pw string) error {
	s.dummyOnce.Do(func() { s.dummy, s.dummyErr = s.Hasher.Hash("tether dummy password") })
	if s.dummyErr != nil {
		return s.dummyErr
	}
	_, err := s.Hasher.Verify(s.dummy, pw)
	return err
}

// SignIn checks the throttle, the password, the member's status and IP rules,
// then issues a token, recording the attempt in sign_in_attempts. Unknown
// emails and wrong passwords give the same Unauthorized "invalid_credentials".
func (s *Service) SignIn(ctx context.Context, req SignInRequest) (SignInResult, error) {
	if !ValidKind(req.Kind) {
		return SignInResult{}, fault.Field("kind", "must be one of: api, web, compat")
	}
	if req.TTL < 0 {
		return SignInResult{}, fault.Field("ttl", "must be positive")
	}
	email := normalizeEmail(req.Email)
	att, err := s.Throttle.Begin(ctx, email, req.IP)
	if err != nil {
		if fault.IsKind(err, fault.TooMany) {
			s.log().Warn("sign-in throttled", "ip", ipString(req.IP))
		}
		return SignInResult{}, err
	}
	res, memberID, reason, err := s.signIn(ctx, email, req)
	if err != nil {
		s.log().Info("sign-in refused", "member_id", memberID, "ip", ipString(req.IP), "reason", reason)
		if rerr := s.Throttle.Fail(ctx, att, memberID, reason); rerr != nil {
			// The attempt stays pending, which counts as a failure: safe to go on.
			s.log().Error("record failed sign-in", "error", rerr)
		}
		return SignInResult{}, err
	}
	if rerr := s.Throttle.Succeed(ctx, att, memberID); rerr != nil {
		s.log().Error("record sign-in", "member_id", memberID, "error", rerr)
	}
	s.log().Info("signed in", "member_id", memberID, "ip", ipString(req.IP), "kind", req.Kind, "restricted", res.Token.Restricted)
	return res, nil
}

// signIn does the checks after the throttle and says why it refused.
func (s *Service) signIn(ctx context.Context, email string, req SignInRequest) (res SignInResult, memberID int64, reason string, err error) {
	creds, err := s.Directory.MemberByEmail(ctx, email)
	if fault.IsKind(err, fault.NotFound) {
		if err := s.verifyDummy(req.Password); err != nil {
			return res, 0, ReasonError, fmt.Errorf("sign in: %w", err)
		}
		return res, 0, ReasonUnknownEmail, invalidCredentials()
	}
	if err != nil {
		return res, 0, ReasonError, fmt.Errorf("sign in: find member: %w", err)
	}
	memberID = creds.MemberID
	if creds.PasswordHash == "" {
		if err := s.verifyDummy(req.Password); err != nil {
			return res, memberID, ReasonError, fmt.Errorf("sign in: %w", err)
		}
		return res, memberID, ReasonNoPassword, invalidCredentials()
	}
	ok, err := s.Hasher.Verify(creds.PasswordHash, req.Password)
	if err != nil {
		return res, memberID, ReasonError, fmt.Errorf("sign in member %d: verify password: %w", memberID, err)
	}
	if !ok {
		return res, memberID, ReasonWrongPass, invalidCredentials()
	}
	if !creds.Enabled {
		return res, memberID, ReasonDisabled, fault.Forbiddenf("member_disabled", "This account is disabled.")
	}
	rules, applies, err := s.Directory.IPRulesFor(ctx, memberID)
	if err != nil {
		return res, memberID, ReasonError, fmt.Errorf("sign in member %d: IP rules: %w", memberID, err)
	}
	if applies && !rules.Allows(req.IP) {
		return res, memberID, ReasonIPNotAllowed, fault.Forbiddenf("ip_not_allowed", "Sign-in is not allowed from this address.")
	}
	policy, err := s.Directory.PasswordPolicy(ctx)
	if err != nil {
		return res, memberID, ReasonError, fmt.Errorf("sign in member %d: password policy: %w", memberID, err)
	}

	now := s.now()
	if creds.PasswordChangedAt == nil {
		// A password of unknown age is treated as expired when ages are limited.
		res.PasswordExpired = policy.MaxAgeDays > 0
	} else {
		changed := creds.PasswordChangedAt.UTC()
		if exp, ok := policy.Expiry(changed); ok {
			res.PasswordExpiresAt = &exp
		}
		res.PasswordExpired = policy.Expired(changed, now)
		res.ExpiryNotice = policy.NoticeDue(changed, now)
	}
	res.MustChangePassword = creds.MustChangePassword || res.PasswordExpired

	ttl := req.TTL
	if ttl == 0 {
		ttl = defaultTTL(req.Kind)
	}
	res.Plaintext, res.Token, err = s.Tokens.Issue(ctx, memberID, req.Kind, ttl, res.MustChangePassword, req.IP)
	if err != nil {
		return SignInResult{}, memberID, ReasonError, fmt.Errorf("sign in member %d: %w", memberID, err)
	}
	s.rehash(ctx, creds, req.Password)
	return res, memberID, ReasonSignedIn, nil
}

// rehash upgrades a hash made with older parameters while the password is
// at hand. Failing to do so costs nothing but a later retry.
func (s *Service) rehash(ctx context.Context, creds Credentials, pw string) {
	if creds.PasswordChangedAt == nil || !s.Hasher.NeedsRehash(creds.PasswordHash) {
		return
	}
	hash, err := s.Hasher.Hash(pw)
	if err == nil {
		err = s.Directory.SetPassword(ctx, creds.MemberID, hash, creds.PasswordChangedAt.UTC(), creds.MustChangePassword)
	}
	if err != nil {
		s.log().Warn("upgrade password hash", "member_id", creds.MemberID, "error", err)
	}
}

func defaultTTL(kind string) time.Duration {
	switch kind {
	case KindAPI:
		return DefaultAPITTL
	case KindCompat:
		return DefaultCompatTTL
	default:
		return DefaultWebTTL
	}
}

// ChangePassword lets a signed-in member replace their password: it checks
// the current one (throttled with the sign-ins of the member's email and of
// the client address ip) and the policy, lifts the restriction on the token
// in use (tokenID, 0 for none) and revokes the member's other tokens.
func (s *Service) ChangePassword(ctx context.Context, memberID, tokenID int64, ip netip.Addr, current, next string) error {
	creds, err := s.Directory.MemberByID(ctx, memberID)
	if err != nil {
		return fmt.Errorf("change password of member %d: %w", memberID, err)
	}
	// A wrong current password is a failed guess like a wrong sign-in, and
	// counts against the same limits: a stolen token must not let its
	// holder guess the password at hashing speed.
	att, err := s.Throttle.Begin(ctx, creds.Email, ip)
	if err != nil {
		if fault.IsKind(err, fault.TooMany) {
			s.log().Warn("password change throttled", "member_id", memberID, "ip", ipString(ip))
		}
		return err
	}
	var ok bool
	if creds.PasswordHash == "" {
		err = s.verifyDummy(current)
	} else {
		ok, err = s.Hasher.Verify(creds.PasswordHash, current)
	}
	reason := ReasonVerified
	switch {
	case err != nil:
		reason = ReasonError
	case !ok:
		reason = ReasonWrongPass
	}
	if rerr := s.Throttle.Fail(ctx, att, memberID, reason); rerr != nil {
		s.log().Error("record password check", "member_id", memberID, "error", rerr)
	}
	if err != nil {
		return fmt.Errorf("change password of member %d: verify: %w", memberID, err)
	}
	if !ok {
		s.log().Info("password change refused", "member_id", memberID, "ip", ipString(ip), "reason", reason)
		return fault.Field("current_password", "is wrong")
	}
	if next == current {
		return fault.Field("new_password", "must differ from the current password")
	}
	hash, err := s.checkAndHash(ctx, next, "new_password")
	if err != nil {
		return err
	}
	if err := s.Directory.SetPassword(ctx, memberID, hash, s.now(), false); err != nil {
		return fmt.Errorf("change password of member %d: %w", memberID, err)
	}
	if _, err := s.Tokens.RevokeAll(ctx, memberID, tokenID); err != nil {
		return fmt.Errorf("change password of member %d: %w", memberID, err)
	}
	if tokenID != 0 {
		// A token revoked meanwhile just means signing in again.
		if err := s.Tokens.Unrestrict(ctx, tokenID, memberID); err != nil && !fault.IsKind(err, fault.NotFound) {
			return fmt.Errorf("change password of member %d: %w", memberID, err)
		}
	}
	s.log().Info("password changed", "member_id", memberID)
	return nil
}

// SetPasswordByAdmin sets a member's password, which they must change at
// their next sign-in, and signs them out everywhere. The caller checks that
// the admin may manage the member.
func (s *Service) SetPasswordByAdmin(ctx context.Context, memberID int64, pw string) error {
	hash, err := s.checkAndHash(ctx, pw, "password")
	if err != nil {
		return err
	}
	if err := s.Directory.SetPassword(ctx, memberID, hash, s.now(), true); err != nil {
		return fmt.Errorf("set password of member %d: %w", memberID, err)
	}
	if _, err := s.Tokens.RevokeAll(ctx, memberID, 0); err != nil {
		return fmt.Errorf("set password of member %d: %w", memberID, err)
	}
	s.log().Info("password set by admin", "member_id", memberID)
	return nil
}

// HashForNewMember checks pw against the policy (field "password") and
// returns its hash, for core/org to store with a new member.
func (s *Service) HashForNewMember(ctx context.Context, pw string) (string, error) {
	return s.checkAndHash(ctx, pw, "password")
}

// checkAndHash applies the organisation's policy, reporting under field.
func (s *Service) checkAndHash(ctx context.Context, pw, field string) (string, error) {
	policy, err := s.Directory.PasswordPolicy(ctx)
	if err != nil {
		return "", fmt.Errorf("password policy: %w", err)
	}
	if err := policy.Check(pw); err != nil {
		var fe *fault.Error
		if errors.As(err, &fe) && field != "password" {
			fe.Fields = map[string]string{field: fe.Fields["password"]}
		}
		return "", err
	}
	return s.Hasher.Hash(pw)
}
