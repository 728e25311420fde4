package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
)

// Token kinds.
const (
	KindAPI    = "api"    // REST bearer tokens
	KindWeb    = "web"    // browser sessions
	KindCompat = "compat" // compatibility-API auth codes
)

// APITokenPrefix marks API tokens so that secret scanners and people can tell
// what a leaked string is.
const APITokenPrefix = "tth_"

// lastUsedResolution is how stale last_used_at may get before Authenticate
// writes it again; writing on every request would make every API call a
// write, which SQLite serialises.
const lastUsedResolution = time.Minute

// maxTokenLength bounds what Authenticate hashes and looks up.
const maxTokenLength = 128

// Token is an issued token as callers see it; the secret is never kept.
type Token struct {
	ID         int64      `json:"id"`
	MemberID   int64      `json:"member_id"`
	Kind       string     `json:"kind"`
	Restricted bool       `json:"restricted"` // only a password change is allowed
	ClientIP   string     `json:"client_ip"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

type tokenRow struct {
	bun.BaseModel `bun:"table:auth_tokens"`

	ID         int64      `bun:"id,pk,autoincrement"`
	MemberID   int64      `bun:"member_id,notnull"`
	Kind       string     `bun:"kind,notnull"`
	TokenHash  string     `bun:"token_hash,notnull"`
	Restricted bool       `bun:"restricted,notnull"`
	ClientIP   string     `bun:"client_ip,notnull"`
	CreatedAt  time.Time  `bun:"created_at,notnull"`
	ExpiresAt  time.Time  `bun:"expires_at,notnull"`
	LastUsedAt *time.Time `bun:"last_used_at"`
	RevokedAt  *time.Time `bun:"revoked_at"`
}

func (r tokenRow) token() Token {
	t := Token{ID: r.ID, MemberID: r.MemberID, Kind: r.Kind, Restricted: r.Restricted, ClientIP: r.ClientIP,
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC()}
	if r.LastUsedAt != nil {
		u := r.LastUsedAt.UTC()
		t.LastUsedAt = &u
	}
	return t
}

// Tokens stores bearer tokens in auth_tokens. Only the SHA-256 of each token
// is kept: the tokens are 256-bit random, so a slow hash would add nothing.
type Tokens struct {
	DB   bun.IDB
	Now  func() time.Time // nil means time.Now
	Rand io.Reader        // nil means crypto/rand
}

// NewTokens returns a token store on db with the real clock and randomness.
func NewTokens(db bun.IDB) *Tokens { return &Tokens{DB: db} }

// now is UTC at the database's microsecond resolution, so what is written
// compares equal to what is read back on both engines.
func (s *Tokens) now() time.Time { return clockNow(s.Now) }

func clockNow(now func() time.Time) time.Time {
	if now == nil {
		now = time.Now
	}
	return now().UTC().Truncate(time.Microsecond)
}

// ValidKind reports whether kind is one of KindAPI, KindWeb, KindCompat.
func ValidKind(kind string) bool {
	return kind == KindAPI || kind == KindWeb || kind == KindCompat
}

// Issue creates a token for memberID valid for ttl and returns its only
// plaintext copy. A restricted token only allows changing the password.
func (s *Tokens) Issue(ctx context.Context, memberID int64, kind string, ttl time.Duration, restricted bool, clientIP netip.Addr) (string, Token, error) {
	if !ValidKind(kind) {
		return "", Token{}, fault.Field("kind", "must be one of: api, web, compat")
	}
	if ttl <= 0 {
		return "", Token{}, fault.Field("ttl", "must be positive")
	}
	r := s.Rand
	if r == nil {
		r = rand.Reader
	}
	secret := make([]byte, 32)
	if _, err := io.ReadFull(r, secret); err != nil {
		return "", Token{}, fmt.Errorf("issue token: read random: %w", err)
	}
	plaintext := base64.RawURLEncoding.EncodeToString(secret)
	if kind == KindAPI {
		plaintext = APITokenPrefix + plaintext
	}
	now := s.now()
	row := tokenRow{MemberID: memberID, Kind: kind, TokenHash: hashToken(plaintext), Restricted: restricted,
		ClientIP: ipString(clientIP), CreatedAt: now, ExpiresAt: now.Add(ttl).Truncate(time.Microsecond)}
	if _, err := s.DB.NewInsert().Model(&row).Returning("id").Exec(ctx); err != nil {
		return "", Token{}, fmt.Errorf("issue %s token for member %d: %w", kind, memberID, err)
	}
	return plaintext, row.token(), nil
}

// Authenticate returns the live token whose plaintext is given, or an
// Unauthorized fault "invalid_token" if it is unknown, expired or revoked.
func (s *Tokens) Authenticate(ctx context.Context, plaintext string) (Token, error) {
	invalid := fault.New(fault.Unauthorized, "invalid_token", "The token is invalid, expired or revoked.")
	if plaintext == "" || len(plaintext) > maxTokenLength {
		return Token{}, invalid
	}
	now := s.now()
	var row tokenRow
	err := s.DB.NewSelect().Model(&row).
		Where("token_hash = ?", hashToken(plaintext)).
		Where("revoked_at IS NULL").
		Where("expires_at > ?", now).
		Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, invalid
	}
	if err != nil {
		return Token{}, fmt.Errorf("authenticate token: %w", err)
	}
	if row.LastUsedAt == nil || now.Sub(*row.LastUsedAt) >= lastUsedResolution {
		if _, err := s.DB.NewUpdate().Model((*tokenRow)(nil)).Set("last_used_at = ?", now).
			Where("id = ?", row.ID).Exec(ctx); err != nil {
			return Token{}, fmt.Errorf("authenticate token %d: record use: %w", row.ID, err)
		}
		row.LastUsedAt = &now
	}
	return row.token(), nil
}

// Revoke ends one of memberID's tokens, or returns NotFound "token_not_found"
// if memberID has no such live token.
func (s *Tokens) Revoke(ctx context.Context, tokenID, memberID int64) error {
	res, err := s.DB.NewUpdate().Model((*tokenRow)(nil)).Set("revoked_at = ?", s.now()).
		Where("id = ?", tokenID).Where("member_id = ?", memberID).Where("revoked_at IS NULL").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("revoke token %d: %w", tokenID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fault.NotFoundf("token", "No live token %d for this member.", tokenID)
	}
	return nil
}

// RevokeAll ends every live token of memberID except exceptTokenID (0 for
// none) and returns how many it ended.
func (s *Tokens) RevokeAll(ctx context.Context, memberID, exceptTokenID int64) (int, error) {
	res, err := s.DB.NewUpdate().Model((*tokenRow)(nil)).Set("revoked_at = ?", s.now()).
		Where("member_id = ?", memberID).Where("id <> ?", exceptTokenID).Where("revoked_at IS NULL").
		Exec(ctx)
	if err != nil {
		return 0, fmt.Errorf("revoke tokens of member %d: %w", memberID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("revoke tokens of member %d: %w", memberID, err)
	}
	return int(n), nil
}

// List returns memberID's live tokens, newest first.
func (s *Tokens) List(ctx context.Context, memberID int64) ([]Token, error) {
	var rows []tokenRow
	err := s.DB.NewSelect().Model(&rows).
		Where("member_id = ?", memberID).Where("revoked_at IS NULL").Where("expires_at > ?", s.now()).
		OrderExpr("created_at DESC, id DESC").
		Scan(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tokens of member %d: %w", memberID, err)
	}
	out := make([]Token, len(rows))
	for i, r := range rows {
		out[i] = r.token()
	}
	return out, nil
}

// Unrestrict lifts the restriction on one of memberID's live tokens, once
// the member has changed the password.
func (s *Tokens) Unrestrict(ctx context.Context, tokenID, memberID int64) error {
	res, err := s.DB.NewUpdate().Model((*tokenRow)(nil)).Set("restricted = ?", false).
		Where("id = ?", tokenID).Where("member_id = ?", memberID).Where("revoked_at IS NULL").
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("unrestrict token %d: %w", tokenID, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fault.NotFoundf("token", "No live token %d for this member.", tokenID)
	}
	return nil
}

func hashToken(plaintext string) string {
	sum := sha256.Sum256([]byte(plaintext))
	return hex.EncodeToString(sum[:])
}

// ipString is the canonical text of ip (IPv4-mapped addresses as IPv4), or
// "" for the zero Addr.
func ipString(ip netip.Addr) string {
	if !ip.IsValid() {
		return ""
	}
	return ip.Unmap().String()
}

// normalizeEmail is how emails are compared and stored.
func normalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }
