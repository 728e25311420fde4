package org

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
	"github.com/tetherhq/tether/core/store"
)

// MemberInput creates a member (ORG-4). GroupID is the technician group of a
// technician (required) or the administrator group of an administrator
// (optional, ORG-2). The password is hashed by the caller.
type MemberInput struct {
	Role           Kind    `json:"role" validate:"required,oneof=master admin technician"`
	GroupID        *int64  `json:"group_id"`
	Name           string  `json:"name" validate:"required,max=128"`
	Nickname       string  `json:"nickname" validate:"max=64"`
	Email          string  `json:"email" validate:"required,mailbox,max=254"`
	SSOID          string  `json:"sso_id" validate:"max=128"`
	Description    string  `json:"description" validate:"max=1024"`
	Enabled        *bool   `json:"enabled"`
	AssignedGroups []int64 `json:"assigned_groups" validate:"max=1000"`
	// Skills and Languages are for technicians only (routing rules).
	Skills    []string `json:"skills" validate:"max=32,dive,min=1,max=64"`
	Languages []string `json:"languages" validate:"max=32,dive,min=1,max=64"`
}

// MemberPatch changes a member; nil fields are left alone. For a technician,
// GroupID moves them to another technician group (ORG-5); for an
// administrator it sets their administrator group.
type MemberPatch struct {
	GroupID     *int64  `json:"group_id"`
	Name        *string `json:"name" validate:"omitnil,min=1,max=128"`
	Nickname    *string `json:"nickname" validate:"omitnil,max=64"`
	Email       *string `json:"email" validate:"omitnil,mailbox,max=254"`
	SSOID       *string `json:"sso_id" validate:"omitnil,max=128"`
	Description *string `json:"description" validate:"omitnil,max=1024"`
	Enabled     *bool   `json:"enabled"`
	// Skills and Languages replace a technician's routing attributes;
	// administrators set them, not the technician.
	Skills    *[]string `json:"skills" validate:"omitnil,max=32,dive,min=1,max=64"`
	Languages *[]string `json:"languages" validate:"omitnil,max=32,dive,min=1,max=64"`
}

func normaliseEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }

// CreateMember adds a master administrator, administrator or technician.
func (s *Service) CreateMember(ctx context.Context, sc *Scope, in MemberInput, passwordHash string, mustChange bool) (Member, error) {
	if err := sc.requireAdmin(); err != nil {
		return Member{}, err
	}
	in.Name = strings.TrimSpace(in.Name)
	in.Nickname = strings.TrimSpace(in.Nickname)
	in.Email = normaliseEmail(in.Email)
	in.SSOID = strings.TrimSpace(in.SSOID)
	in.Description = strings.TrimSpace(in.Description)
	in.Skills, in.Languages = normaliseList(in.Skills), normaliseList(in.Languages)
	if err := fault.Validate(in); err != nil {
		return Member{}, err
	}
	if err := checkAttributes(in.Role, in.Skills, in.Languages); err != nil {
		return Member{}, err
	}
	if in.Role != KindTechnician {
		if err := sc.requireMaster("create administrators"); err != nil {
			return Member{}, err
		}
	}
	var id int64
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		parent, err := s.memberParent(ctx, tx, sc, in.Role, in.GroupID)
		if err != nil {
			return err
		}
		if in.Role != KindAdmin && len(in.AssignedGroups) > 0 {
			return fault.Field("assigned_groups", "only administrators are assigned technician groups")
		}
		if err := checkTechGroups(ctx, tx, in.AssignedGroups); err != nil {
			return err
		}
		now := s.now()
		n := nodeRow{ParentID: &parent, Kind: in.Role, Name: in.Name, Description: in.Description,
			Enabled: in.Enabled == nil || *in.Enabled, CreatedAt: now, UpdatedAt: now}
		if _, err := tx.NewInsert().Model(&n).Returning("id").Exec(ctx); err != nil {
			return fmt.Errorf("insert member: %w", err)
		}
		m := memberRow{NodeID: n.ID, Email: in.Email, Nickname: in.Nickname, SSOID: in.SSOID,
			PasswordHash: passwordHash, MustChangePassword: mustChange,
			Skills: nonNil(in.Skills), Languages: nonNil(in.Languages)}
		if passwordHash != "" {
			m.PasswordChangedAt = &now
		}
		if _, err := tx.NewInsert().Model(&m).Exec(ctx); err != nil {
			if store.IsUniqueViolation(err) {
				return emailTaken(in.Email)
			}
			return fmt.Errorf("insert member: %w", err)
		}
		id = n.ID
		return setAssigned(ctx, tx, id, in.AssignedGroups)
	})
	if err != nil {
		return Member{}, err
	}
	return s.member(ctx, s.DB, id)
}

func emailTaken(email string) error {
	return &fault.Error{Kind: fault.Conflict, Code: "email_taken",
		Message: "Another member already signs in with this e-mail address.",
		Fields:  map[string]string{"email": "is already used by another member"}}
}

// memberParent resolves the parent node of a new or moved member.
func (s *Service) memberParent(ctx context.Context, db bun.IDB, sc *Scope, role Kind, groupID *int64) (int64, error) {
	switch role {
	case KindTechnician:
		if groupID == nil {
			return 0, fault.Field("group_id", "is required for technicians")
		}
		g, err := refOfKind(ctx, db, *groupID, "group_id", "technician group", KindTechGroup)
		if err != nil {
			return 0, err
		}
		return g.ID, sc.require(g.ID, "technician group")
	case KindAdmin:
		if groupID == nil {
			return s.rootID(ctx, db)
		}
		g, err := refOfKind(ctx, db, *groupID, "group_id", "administrator group", KindAdminGroup)
		return g.ID, err
	default:
		if groupID != nil {
			return 0, fault.Field("group_id", "master administrators belong to no group")
		}
		return s.rootID(ctx, db)
	}
}

func checkTechGroups(ctx context.Context, db bun.IDB, ids []int64) error {
	seen := map[int64]bool{}
	for i, id := range ids {
		if seen[id] {
			return fault.Field(fmt.Sprintf("assigned_groups[%d]", i), "is listed twice")
		}
		seen[id] = true
		if _, err := refOfKind(ctx, db, id, fmt.Sprintf("assigned_groups[%d]", i), "technician group", KindTechGroup); err != nil {
			return err
		}
	}
	return nil
}

func setAssigned(ctx context.Context, db bun.IDB, adminID int64, groups []int64) error {
	if _, err := db.NewDelete().Model((*adminTechGroupRow)(nil)).Where("admin_id = ?", adminID).Exec(ctx); err != nil {
		return fmt.Errorf("clear assigned groups: %w", err)
	}
	if len(groups) == 0 {
		return nil
	}
	rows := make([]adminTechGroupRow, len(groups))
	for i, g := range groups {
		rows[i] = adminTechGroupRow{AdminID: adminID, TechGroupID: g}
	}
	if _, err := db.NewInsert().Model(&rows).Exec(ctx); err != nil {
		return fmt.Errorf("assign groups: %w", err)
	}
	return nil
}

// Member returns one member the caller may see.
func (s *Service) Member(ctx context.Context, sc *Scope, id int64) (Member, error) {
	n, err := nodeOfKind(ctx, s.DB, id, "member", KindMaster, KindAdmin, KindTechnician)
	if err != nil {
		return Member{}, err
	}
	if !sc.Sees(n.ID) {
		return Member{}, fault.OutOfScope("Member %d is outside your scope.", id)
	}
	return s.member(ctx, s.DB, id)
}

// MemberByID returns a member without a scope check, for the auth layer.
func (s *Service) MemberByID(ctx context.Context, id int64) (Member, error) {
	return s.member(ctx, s.DB, id)
}

func (s *Service) member(ctx context.Context, db bun.IDB, id int64) (Member, error) {
	n, err := nodeOfKind(ctx, db, id, "member", KindMaster, KindAdmin, KindTechnician)
	if err != nil {
		return Member{}, err
	}
	var m memberRow
	if err := db.NewSelect().Model(&m).Where("node_id = ?", id).Scan(ctx); err != nil {
		return Member{}, fmt.Errorf("load member %d: %w", id, err)
	}
	out := toMember(n, m)
	if n.Kind == KindAdmin {
		if err := db.NewSelect().Table("admin_tech_groups").Column("tech_group_id").
			Where("admin_id = ?", id).OrderExpr("tech_group_id").Scan(ctx, &out.AssignedGroups); err != nil {
			return Member{}, fmt.Errorf("load assigned groups: %w", err)
		}
	}
	return out, nil
}

func toMember(n nodeRow, m memberRow) Member {
	return Member{Unit: n.unit(), Email: m.Email, Nickname: m.Nickname, SSOID: m.SSOID,
		MustChangePassword: m.MustChangePassword, PasswordChangedAt: m.PasswordChangedAt,
		Skills: nonNil(m.Skills), Languages: nonNil(m.Languages)}
}

// MemberFilter narrows ListMembers.
type MemberFilter struct {
	GroupID int64 // direct members of this group; 0 = any
	Role    Kind  // "" = any
}

// ListMembers returns the members in the caller's scope, ordered by name.
func (s *Service) ListMembers(ctx context.Context, sc *Scope, f MemberFilter) ([]Member, error) {
	var nodes []nodeRow
	q := s.DB.NewSelect().Model(&nodes).Where("kind IN (?)", bun.In([]Kind{KindMaster, KindAdmin, KindTechnician}))
	if f.GroupID != 0 {
		q = q.Where("parent_id = ?", f.GroupID)
	}
	if f.Role != "" {
		q = q.Where("kind = ?", f.Role)
	}
	if err := q.OrderExpr("name, id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	var members []memberRow
	if err := s.DB.NewSelect().Model(&members).Scan(ctx); err != nil {
		return nil, fmt.Errorf("list members: %w", err)
	}
	byID := make(map[int64]memberRow, len(members))
	for _, m := range members {
		byID[m.NodeID] = m
	}
	out := []Member{}
	for _, n := range nodes {
		if sc.Sees(n.ID) {
			out = append(out, toMember(n, byID[n.ID]))
		}
	}
	return out, nil
}

// UpdateMember changes a member's fields, moves a technician (ORG-5) or
// enables/disables them. Members may change their own name, nickname,
// description and e-mail; everything else needs scope over the member.
func (s *Service) UpdateMember(ctx context.Context, sc *Scope, id int64, p MemberPatch) (Member, error) {
	trimPtr(p.Name)
	trimPtr(p.Nickname)
	trimPtr(p.SSOID)
	trimPtr(p.Description)
	if p.Email != nil {
		*p.Email = normaliseEmail(*p.Email)
	}
	if p.Skills != nil {
		*p.Skills = nonNil(normaliseList(*p.Skills))
	}
	if p.Languages != nil {
		*p.Languages = nonNil(normaliseList(*p.Languages))
	}
	if err := fault.Validate(p); err != nil {
		return Member{}, err
	}
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		n, err := nodeOfKind(ctx, tx, id, "member", KindMaster, KindAdmin, KindTechnician)
		if err != nil {
			return err
		}
		if err := s.canChangeMember(sc, n, p); err != nil {
			return err
		}
		if err := checkAttributes(n.Kind, deref(p.Skills), deref(p.Languages)); err != nil {
			return err
		}
		if p.GroupID != nil {
			parent, err := s.memberParent(ctx, tx, sc, n.Kind, p.GroupID)
			if err != nil {
				return err
			}
			n.ParentID = &parent
		}
		if p.Enabled != nil && !*p.Enabled && n.Enabled {
			if err := refuseLastMaster(ctx, tx, n, "disable"); err != nil {
				return err
			}
		}
		var m memberRow
		if err := tx.NewSelect().Model(&m).Where("node_id = ?", id).Scan(ctx); err != nil {
			return fmt.Errorf("load member %d: %w", id, err)
		}
		setIf(&n.Name, p.Name)
		setIf(&n.Description, p.Description)
		setIf(&m.Nickname, p.Nickname)
		setIf(&m.Email, p.Email)
		setIf(&m.SSOID, p.SSOID)
		if p.Enabled != nil {
			n.Enabled = *p.Enabled
		}
		if p.Skills != nil {
			m.Skills = *p.Skills
		}
		if p.Languages != nil {
			m.Languages = *p.Languages
		}
		n.UpdatedAt = s.now()
		if _, err := tx.NewUpdate().Model(&n).WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("update member %d: %w", id, err)
		}
		if _, err := tx.NewUpdate().Model(&m).Column("email", "nickname", "sso_id", "skills", "languages").WherePK().Exec(ctx); err != nil {
			if store.IsUniqueViolation(err) {
				return emailTaken(m.Email)
			}
			return fmt.Errorf("update member %d: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return Member{}, err
	}
	return s.member(ctx, s.DB, id)
}

func setIf(dst *string, src *string) {
	if src != nil {
		*dst = *src
	}
}

func (s *Service) canChangeMember(sc *Scope, n nodeRow, p MemberPatch) error {
	self := sc.Actor.ID == n.ID
	if self && p.GroupID == nil && p.Enabled == nil && p.SSOID == nil && p.Skills == nil && p.Languages == nil {
		return nil
	}
	if self && p.Enabled != nil && !*p.Enabled {
		return fault.Forbiddenf("cannot_disable_self", "You cannot disable your own account.")
	}
	if err := sc.requireAdmin(); err != nil {
		return err
	}
	if n.Kind != KindTechnician {
		return sc.requireMaster("change administrators")
	}
	return sc.require(n.ID, "technician")
}

func refuseLastMaster(ctx context.Context, db bun.IDB, n nodeRow, verb string) error {
	if n.Kind != KindMaster {
		return nil
	}
	count, err := db.NewSelect().Table("nodes").Where("kind = ? AND enabled AND id <> ?", KindMaster, n.ID).Count(ctx)
	if err != nil {
		return fmt.Errorf("count master administrators: %w", err)
	}
	if count == 0 {
		return fault.New(fault.Conflict, "last_master", "Cannot %s the last enabled master administrator.", verb)
	}
	return nil
}

// AssignGroups replaces the technician groups an administrator manages (ORG-1).
func (s *Service) AssignGroups(ctx context.Context, sc *Scope, adminID int64, groups []int64) (Member, error) {
	if err := sc.requireMaster("assign technician groups to administrators"); err != nil {
		return Member{}, err
	}
	if len(groups) > 1000 {
		return Member{}, fault.Field("groups", "must be at most 1000 items")
	}
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := nodeOfKind(ctx, tx, adminID, "administrator", KindAdmin); err != nil {
			return err
		}
		if err := checkTechGroups(ctx, tx, groups); err != nil {
			if fe, ok := fault.As(err); ok {
				for k, v := range fe.Fields {
					delete(fe.Fields, k)
					fe.Fields[strings.Replace(k, "assigned_groups", "groups", 1)] = v
				}
			}
			return err
		}
		return setAssigned(ctx, tx, adminID, groups)
	})
	if err != nil {
		return Member{}, err
	}
	return s.member(ctx, s.DB, adminID)
}

// DeleteMember removes a member; you cannot delete yourself or the last master.
func (s *Service) DeleteMember(ctx context.Context, sc *Scope, id int64) error {
	if err := sc.requireAdmin(); err != nil {
		return err
	}
	if id == sc.Actor.ID {
		return fault.Forbiddenf("cannot_delete_self", "You cannot delete your own account.")
	}
	return s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		n, err := nodeOfKind(ctx, tx, id, "member", KindMaster, KindAdmin, KindTechnician)
		if err != nil {
			return err
		}
		if n.Kind != KindTechnician {
			if err := sc.requireMaster("delete administrators"); err != nil {
				return err
			}
		} else if err := sc.require(n.ID, "technician"); err != nil {
			return err
		}
		if err := refuseLastMaster(ctx, tx, n, "delete"); err != nil {
			return err
		}
		if _, err := tx.NewDelete().Model((*nodeRow)(nil)).Where("id = ?", id).Exec(ctx); err != nil {
			return fmt.Errorf("delete member %d: %w", id, err)
		}
		return nil
	})
}

// Credentials is what sign-in needs to know about a member.
type Credentials struct {
	MemberID           int64
	Email              string
	Role               Kind
	Enabled            bool
	PasswordHash       string
	PasswordChangedAt  *time.Time
	MustChangePassword bool
	TechGroupID        int64 // 0 unless the member is a technician
	// DisplayName is what customers and system messages call the member:
	// the nickname, else the name.
	DisplayName string
}

// CredentialsByEmail looks a member up by sign-in e-mail; NotFound if none.
func (s *Service) CredentialsByEmail(ctx context.Context, email string) (Credentials, error) {
	return s.credentials(ctx, fault.NotFoundf("member", "No member with that e-mail address."),
		credentialsByEmail, normaliseEmail(email))
}

// CredentialsByID is CredentialsByEmail by member id.
func (s *Service) CredentialsByID(ctx context.Context, id int64) (Credentials, error) {
	return s.credentials(ctx, fault.NotFoundf("member", "No member with id %d.", id), credentialsByID, id)
}

// CredentialsBySSOID looks a member up by SSO ID (AUTH-3).
func (s *Service) CredentialsBySSOID(ctx context.Context, ssoID string) (Credentials, error) {
	return s.credentials(ctx, fault.NotFoundf("member", "No member with that SSO ID."),
		credentialsBySSOID, ssoID)
}

// memberNode is a member with its node's columns: credentials are read on
// every request and every session action, in one query.
type memberNode struct {
	memberRow `bun:",extend"`
	Kind      Kind   `bun:"kind"`
	Name      string `bun:"name"`
	Enabled   bool   `bun:"enabled"`
	ParentID  *int64 `bun:"parent_id"`
}

// credentialsOf makes a statement that reads a member's credentials.
func credentialsOf(where string) *store.Statement {
	return store.NewStatement(`SELECT ` + store.Columns((*memberRow)(nil), "m") + `, n.kind, n.name, n.enabled, n.parent_id FROM members AS m
	JOIN nodes AS n ON n.id = m.node_id WHERE ` + where + ` LIMIT 1`)
}

var (
	credentialsByID    = credentialsOf("m.node_id = ?")
	credentialsBySSOID = credentialsOf("m.sso_id = ? AND m.sso_id <> ''")
	credentialsByEmail = credentialsOf("m.email = ?")
)

func (s *Service) credentials(ctx context.Context, notFound error, stmt *store.Statement, arg any) (Credentials, error) {
	var m memberNode
	err := stmt.Scan(ctx, s.DB, &m, arg)
	if errors.Is(err, sql.ErrNoRows) {
		return Credentials{}, notFound
	}
	if err != nil {
		return Credentials{}, fmt.Errorf("load member: %w", err)
	}
	c := Credentials{MemberID: m.NodeID, Email: m.Email, Role: m.Kind, Enabled: m.Enabled,
		PasswordHash: m.PasswordHash, PasswordChangedAt: m.PasswordChangedAt, MustChangePassword: m.MustChangePassword,
		DisplayName: m.Name}
	if m.Nickname != "" {
		c.DisplayName = m.Nickname
	}
	if m.Kind == KindTechnician && m.ParentID != nil {
		c.TechGroupID = *m.ParentID
	}
	return c, nil
}

// SetPassword stores a new password hash.
func (s *Service) SetPassword(ctx context.Context, memberID int64, hash string, changedAt time.Time, mustChange bool) error {
	changedAt = changedAt.UTC()
	res, err := s.DB.NewUpdate().Model((*memberRow)(nil)).
		Set("password_hash = ?", hash).Set("password_changed_at = ?", changedAt).
		Set("must_change_password = ?", mustChange).Where("node_id = ?", memberID).Exec(ctx)
	if err != nil {
		return fmt.Errorf("set password of %d: %w", memberID, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fault.NotFoundf("member", "No member with id %d.", memberID)
	}
	return nil
}

// CheckManageMember refuses unless the caller may manage the member's
// account (password resets and the like): technicians in scope for
// administrators, anyone for master administrators.
func (s *Service) CheckManageMember(ctx context.Context, sc *Scope, id int64) error {
	if err := sc.requireAdmin(); err != nil {
		return err
	}
	n, err := nodeOfKind(ctx, s.DB, id, "member", KindMaster, KindAdmin, KindTechnician)
	if err != nil {
		return err
	}
	if n.Kind != KindTechnician {
		return sc.requireMaster("manage administrators")
	}
	return sc.require(n.ID, "technician")
}
