package rules

import (
	"encoding/json"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/routing"
)

type ruleRow struct {
	bun.BaseModel `bun:"table:routing_rules,alias:r"`

	ID        int64     `bun:"id,pk,autoincrement"`
	ChannelID *int64    `bun:"channel_id"`
	GroupID   *int64    `bun:"group_id"`
	Position  int       `bun:"position,notnull"`
	Body      string    `bun:"body,notnull"`
	CreatedAt time.Time `bun:"created_at,notnull"`
	UpdatedAt time.Time `bun:"updated_at,notnull"`
}

type packRow struct {
	bun.BaseModel `bun:"table:routing_packs,alias:p"`

	ID          int64     `bun:"id,pk,autoincrement"`
	PluginID    string    `bun:"plugin_id,notnull"`
	Version     string    `bun:"version,notnull"`
	Rules       string    `bun:"rules,notnull"`
	InstalledAt time.Time `bun:"installed_at,notnull"`
}

type packChannelRow struct {
	bun.BaseModel `bun:"table:routing_pack_channels"`

	PackID    int64 `bun:"pack_id,pk"`
	ChannelID int64 `bun:"channel_id,pk"`
}

type auditRow struct {
	bun.BaseModel `bun:"table:routing_audit,alias:a"`

	ID        int64     `bun:"id,pk,autoincrement"`
	At        time.Time `bun:"at,notnull"`
	ActorID   int64     `bun:"actor_id,notnull"`
	Action    Action    `bun:"action,notnull"`
	RuleID    int64     `bun:"rule_id,notnull"`
	PackID    int64     `bun:"pack_id,notnull"`
	ChannelID int64     `bun:"channel_id,notnull"`
	GroupID   int64     `bun:"group_id,notnull"`
	OldJSON   string    `bun:"old_json,notnull"`
	NewJSON   string    `bun:"new_json,notnull"`
}

// List names the rule list a rule belongs to: a channel's (for channel
// sessions) or a technician group's (for private sessions of its technicians).
// Exactly one of the two is set.
type List struct {
	ChannelID int64 `json:"channel_id,omitempty"`
	GroupID   int64 `json:"group_id,omitempty"`
}

// Unit is the list's channel or group ID.
func (l List) Unit() int64 {
	if l.ChannelID != 0 {
		return l.ChannelID
	}
	return l.GroupID
}

// Stored is an administrator's rule as stored, with its run-time failures.
// Its priority is its position in its list and its applies_to is the list's
// channel or group: both are set by the list, not by the client.
type Stored struct {
	routing.Rule
	List
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	// Failures counts run-time failures since the hub started; LastError
	// is the last one's message.
	Failures  uint64 `json:"failures"`
	LastError string `json:"last_error,omitempty"`
}

// Pack is a rule pack a plugin ships: read-only, enabled per channel.
type Pack struct {
	ID          int64          `json:"id"`
	PluginID    string         `json:"plugin_id"`
	Version     string         `json:"version"`
	Rules       []routing.Rule `json:"rules"`
	InstalledAt time.Time      `json:"installed_at"`
	// Channels are the channels the pack is enabled on (in the caller's scope).
	Channels []int64 `json:"channels"`
}

// Action is what an audit entry records.
type Action string

const (
	ActionCreate      Action = "create"
	ActionUpdate      Action = "update"
	ActionDelete      Action = "delete"
	ActionReorder     Action = "reorder"
	ActionPackInstall Action = "pack_install"
	ActionPackRemove  Action = "pack_remove"
	ActionPackEnable  Action = "pack_enable"
	ActionPackDisable Action = "pack_disable"
)

// AuditEntry is who changed which rule or pack when. ActorID 0 is the hub
// itself (a plugin installed from the command line).
type AuditEntry struct {
	ID        int64           `json:"id"`
	At        time.Time       `json:"at"`
	ActorID   int64           `json:"actor_id"`
	Action    Action          `json:"action"`
	RuleID    int64           `json:"rule_id,omitempty"`
	PackID    int64           `json:"pack_id,omitempty"`
	ChannelID int64           `json:"channel_id,omitempty"`
	GroupID   int64           `json:"group_id,omitempty"`
	Old       json.RawMessage `json:"old"`
	New       json.RawMessage `json:"new"`
}
