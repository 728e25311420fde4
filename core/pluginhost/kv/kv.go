package kv

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/store"
)

// Limits.
const (
	MaxKeyBytes   = 256
	MaxValueBytes = 64 << 10
	// DefaultMaxKeys is the number of keys a plugin may hold when
	// Store.MaxKeys is 0.
	DefaultMaxKeys = 100_000
)

// Store reads and writes plugin_kv.
type Store struct {
	DB      *bun.DB
	Now     func() time.Time // nil means time.Now
	MaxKeys int              // 0 means DefaultMaxKeys
}

type row struct {
	bun.BaseModel `bun:"table:plugin_kv"`

	PluginID  string    `bun:"plugin_id,pk"`
	Key       string    `bun:"key,pk"`
	Value     []byte    `bun:"value,notnull"`
	UpdatedAt time.Time `bun:"updated_at,notnull"`
}

// Space is one plugin's key-value space: the only handle the host API gets,
// so a plugin can never name another plugin's keys.
type Space struct {
	store    *Store
	pluginID string
}

// Space returns the key-value space of one plugin.
func (s *Store) Space(pluginID string) *Space { return &Space{store: s, pluginID: pluginID} }

// PluginID is the plugin the space belongs to.
func (sp *Space) PluginID() string { return sp.pluginID }

// Get reads a key; ok is false when it is not set.
func (sp *Space) Get(ctx context.Context, key string) (value []byte, ok bool, err error) {
	if err := checkKey(key); err != nil {
		return nil, false, err
	}
	var r row
	err = sp.store.DB.NewSelect().Model(&r).Column("value").
		Where("plugin_id = ?", sp.pluginID).Where("key = ?", key).Scan(ctx)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("kv get %s/%q: %w", sp.pluginID, key, err)
	}
	if r.Value == nil {
		r.Value = []byte{}
	}
	return r.Value, true, nil
}

// Set writes a key. A new key beyond the plugin's key limit is refused.
// The limit is checked without locking, so concurrent writers of new keys
// may pass it by a few.
func (sp *Space) Set(ctx context.Context, key string, value []byte) error {
	if err := checkKey(key); err != nil {
		return err
	}
	if len(value) > MaxValueBytes {
		return fault.Field("value", fmt.Sprintf("is %d bytes; a value may hold at most %d bytes (64 KiB)", len(value), MaxValueBytes))
	}
	if value == nil {
		value = []byte{}
	}
	s := sp.store
	now := s.now()
	res, err := s.DB.NewUpdate().Model((*row)(nil)).
		Set("value = ?", value).Set("updated_at = ?", now).
		Where("plugin_id = ?", sp.pluginID).Where("key = ?", key).
		Exec(ctx)
	if err != nil {
		return fmt.Errorf("kv set %s/%q: %w", sp.pluginID, key, err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		return nil
	}
	count, err := s.DB.NewSelect().Model((*row)(nil)).Where("plugin_id = ?", sp.pluginID).Count(ctx)
	if err != nil {
		return fmt.Errorf("kv set %s/%q: count keys: %w", sp.pluginID, key, err)
	}
	if count >= int64(s.maxKeys()) {
		return fault.New(fault.Conflict, "kv_full",
			"Plugin %s already holds %d keys, the most it may keep; delete some before adding %q.", sp.pluginID, count, key)
	}
	_, err = s.DB.NewInsert().Model(&row{PluginID: sp.pluginID, Key: key, Value: value, UpdatedAt: now}).
		On("CONFLICT (plugin_id, key) DO UPDATE").
		Set("value = EXCLUDED.value").
		Set("updated_at = EXCLUDED.updated_at").
		Exec(ctx)
	if store.IsForeignKeyViolation(err) {
		return fault.NotFoundf("plugin", "Plugin %s is not installed.", sp.pluginID)
	}
	if err != nil {
		return fmt.Errorf("kv set %s/%q: %w", sp.pluginID, key, err)
	}
	return nil
}

// Delete removes a key; removing a key that is not set is not an error.
func (sp *Space) Delete(ctx context.Context, key string) error {
	if err := checkKey(key); err != nil {
		return err
	}
	_, err := sp.store.DB.NewDelete().Model((*row)(nil)).
		Where("plugin_id = ?", sp.pluginID).Where("key = ?", key).Exec(ctx)
	if err != nil {
		return fmt.Errorf("kv delete %s/%q: %w", sp.pluginID, key, err)
	}
	return nil
}

// Count returns how many keys the plugin holds, for the admin view.
func (sp *Space) Count(ctx context.Context) (int64, error) {
	n, err := sp.store.DB.NewSelect().Model((*row)(nil)).Where("plugin_id = ?", sp.pluginID).Count(ctx)
	if err != nil {
		return 0, fmt.Errorf("kv count %s: %w", sp.pluginID, err)
	}
	return n, nil
}

// checkKey refuses keys PostgreSQL's TEXT cannot hold (NUL, invalid UTF-8)
// so that both engines accept the same keys.
func checkKey(key string) error {
	switch {
	case key == "":
		return fault.Field("key", "is required")
	case len(key) > MaxKeyBytes:
		return fault.Field("key", fmt.Sprintf("is %d bytes; a key may hold at most %d bytes", len(key), MaxKeyBytes))
	case !utf8.ValidString(key):
		return fault.Field("key", "must be valid UTF-8")
	case strings.ContainsRune(key, 0):
		return fault.Field("key", "must not contain NUL")
	}
	return nil
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Store) maxKeys() int {
	if s.MaxKeys > 0 {
		return s.MaxKeys
	}
	return DefaultMaxKeys
}
