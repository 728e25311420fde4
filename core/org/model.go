package org

import (
	"time"

	"github.com/uptrace/bun"
)

// Kind is the kind of a unit of the tree.
type Kind string

const (
	KindOrg        Kind = "org"
	KindAdminGroup Kind = "admin_group"
	KindTechGroup  Kind = "tech_group"
	KindMaster     Kind = "master"
	KindAdmin      Kind = "admin"
	KindTechnician Kind = "technician"
	KindChannel    Kind = "channel"
)

// IsMember reports whether units of this kind are people who sign in.
func (k Kind) IsMember() bool {
	return k == KindMaster || k == KindAdmin || k == KindTechnician
}

// ChannelCount is fixed by CH-1.
const ChannelCount = 10

type nodeRow struct {
	bun.BaseModel `bun:"table:nodes,alias:n"`

	ID          int64     `bun:"id,pk,autoincrement"`
	ParentID    *int64    `bun:"parent_id"`
	Kind        Kind      `bun:"kind,notnull"`
	Name        string    `bun:"name,notnull"`
	Description string    `bun:"description,notnull"`
	Enabled     bool      `bun:"enabled,notnull"`
	CreatedAt   time.Time `bun:"created_at,notnull"`
	UpdatedAt   time.Time `bun:"updated_at,notnull"`
}

type memberRow struct {
	bun.BaseModel `bun:"table:members,alias:m"`

	NodeID             int64      `bun:"node_id,pk"`
	Email              string     `bun:"email,notnull"`
	Nickname           string     `bun:"nickname,notnull"`
	SSOID              string     `bun:"sso_id,notnull"`
	PasswordHash       string     `bun:"password_hash,notnull"`
	PasswordChangedAt  *time.Time `bun:"password_changed_at"`
	MustChangePassword bool       `bun:"must_change_password,notnull"`
	Skills             []string   `bun:"skills,notnull"`
	Languages          []string   `bun:"languages,notnull"`
}

type adminTechGroupRow struct {
	bun.BaseModel `bun:"table:admin_tech_groups"`

	AdminID     int64 `bun:"admin_id,pk"`
	TechGroupID int64 `bun:"tech_group_id,pk"`
}

type channelRow struct {
	bun.BaseModel `bun:"table:channels"`

	NodeID int64 `bun:"node_id,pk"`
	Number int   `bun:"number,notnull"`
}

type channelGroupRow struct {
	bun.BaseModel `bun:"table:channel_groups"`

	ChannelID   int64 `bun:"channel_id,pk"`
	TechGroupID int64 `bun:"tech_group_id,pk"`
}

type channelExclusionRow struct {
	bun.BaseModel `bun:"table:channel_exclusions"`

	ChannelID    int64 `bun:"channel_id,pk"`
	TechnicianID int64 `bun:"technician_id,pk"`
}

// Unit is any node of the tree as the API shows it.
type Unit struct {
	ID          int64     `json:"id"`
	ParentID    *int64    `json:"parent_id"`
	Kind        Kind      `json:"kind"`
	Name        string    `json:"name"`
	Description string    `json:"description"`
	Enabled     bool      `json:"enabled"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func (n nodeRow) unit() Unit {
	return Unit{ID: n.ID, ParentID: n.ParentID, Kind: n.Kind, Name: n.Name, Description: n.Description,
		Enabled: n.Enabled, CreatedAt: n.CreatedAt, UpdatedAt: n.UpdatedAt}
}

// Member is a master admin, admin or technician (ORG-4). The password hash
// never leaves the package except through Credentials.
type Member struct {
	Unit
	Email              string     `json:"email"`
	Nickname           string     `json:"nickname"`
	SSOID              string     `json:"sso_id"`
	MustChangePassword bool       `json:"must_change_password"`
	PasswordChangedAt  *time.Time `json:"password_changed_at"`
	// AssignedGroups are the technician groups an administrator manages (ORG-1).
	AssignedGroups []int64 `json:"assigned_groups,omitempty"`
	// Skills and Languages are a technician's routing attributes; empty
	// for administrators.
	Skills    []string `json:"skills"`
	Languages []string `json:"languages"`
}

// Channel is one of the ten channels (CH-1..CH-3).
type Channel struct {
	Unit
	Number   int     `json:"number"`
	Groups   []int64 `json:"groups"`
	Excluded []int64 `json:"excluded_technicians"`
}
