package org

import (
	"context"
	"fmt"
	"strings"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
)

// GroupInput creates an admin or technician group. A nil ParentID puts the
// group at the top of the organisation (master administrators only).
type GroupInput struct {
	ParentID    *int64 `json:"parent_id"`
	Name        string `json:"name" validate:"required,max=128"`
	Description string `json:"description" validate:"max=1024"`
	Enabled     *bool  `json:"enabled"`
}

// GroupPatch changes a group; nil fields are left alone. A ParentID moves the group.
type GroupPatch struct {
	ParentID    *int64  `json:"parent_id"`
	Name        *string `json:"name" validate:"omitnil,min=1,max=128"`
	Description *string `json:"description" validate:"omitnil,max=1024"`
	Enabled     *bool   `json:"enabled"`
}

func trimPtr(p *string) {
	if p != nil {
		*p = strings.TrimSpace(*p)
	}
}

// CreateTechGroup adds a technician group (ORG-3): master administrators
// anywhere, administrators only inside groups assigned to them.
func (s *Service) CreateTechGroup(ctx context.Context, sc *Scope, in GroupInput) (Unit, error) {
	return s.createGroup(ctx, sc, in, KindTechGroup)
}

// CreateAdminGroup adds an administrator group (ORG-2); master administrators only.
func (s *Service) CreateAdminGroup(ctx context.Context, sc *Scope, in GroupInput) (Unit, error) {
	if err := sc.requireMaster("create administrator groups"); err != nil {
		return Unit{}, err
	}
	return s.createGroup(ctx, sc, in, KindAdminGroup)
}

func (s *Service) createGroup(ctx context.Context, sc *Scope, in GroupInput, kind Kind) (Unit, error) {
	if err := sc.requireAdmin(); err != nil {
		return Unit{}, err
	}
	in.Name = strings.TrimSpace(in.Name)
	in.Description = strings.TrimSpace(in.Description)
	if err := fault.Validate(in); err != nil {
		return Unit{}, err
	}
	var out nodeRow
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		parent, err := s.groupParent(ctx, tx, sc, in.ParentID, kind)
		if err != nil {
			return err
		}
		now := s.now()
		out = nodeRow{ParentID: &parent, Kind: kind, Name: in.Name, Description: in.Description,
			Enabled: in.Enabled == nil || *in.Enabled, CreatedAt: now, UpdatedAt: now}
		if _, err := tx.NewInsert().Model(&out).Returning("id").Exec(ctx); err != nil {
			return fmt.Errorf("insert %s: %w", kind, err)
		}
		return nil
	})
	return out.unit(), err
}

// groupParent resolves and checks where a group of the given kind may go.
func (s *Service) groupParent(ctx context.Context, db bun.IDB, sc *Scope, parentID *int64, kind Kind) (int64, error) {
	if parentID == nil {
		if !sc.IsMaster() {
			return 0, fault.OutOfScope("Administrators create technician groups only inside the groups assigned to them; give parent_id.")
		}
		return s.rootID(ctx, db)
	}
	noun := "technician group"
	if kind == KindAdminGroup {
		noun = "administrator group"
	}
	p, err := refOfKind(ctx, db, *parentID, "parent_id", noun, kind, KindOrg)
	if err != nil {
		return 0, err
	}
	if err := sc.require(p.ID, noun); err != nil {
		return 0, err
	}
	return p.ID, nil
}

// UpdateGroup renames, describes, enables/disables or moves a group.
func (s *Service) UpdateGroup(ctx context.Context, sc *Scope, id int64, p GroupPatch) (Unit, error) {
	if err := sc.requireAdmin(); err != nil {
		return Unit{}, err
	}
	trimPtr(p.Name)
	trimPtr(p.Description)
	if err := fault.Validate(p); err != nil {
		return Unit{}, err
	}
	var out nodeRow
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		n, err := nodeOfKind(ctx, tx, id, "group", KindTechGroup, KindAdminGroup)
		if err != nil {
			return err
		}
		if n.Kind == KindAdminGroup {
			if err := sc.requireMaster("change administrator groups"); err != nil {
				return err
			}
		} else if err := sc.require(n.ID, "technician group"); err != nil {
			return err
		}
		if p.ParentID != nil && (n.ParentID == nil || *p.ParentID != *n.ParentID) {
			if err := s.checkMove(ctx, tx, sc, n, *p.ParentID); err != nil {
				return err
			}
			n.ParentID = p.ParentID
		}
		if p.Name != nil {
			n.Name = *p.Name
		}
		if p.Description != nil {
			n.Description = *p.Description
		}
		if p.Enabled != nil {
			n.Enabled = *p.Enabled
		}
		n.UpdatedAt = s.now()
		if _, err := tx.NewUpdate().Model(&n).WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("update group %d: %w", id, err)
		}
		out = n
		return nil
	})
	return out.unit(), err
}

// checkMove refuses moving a group under itself, under a group of another
// kind, or (for administrators) out of their scope.
func (s *Service) checkMove(ctx context.Context, db bun.IDB, sc *Scope, n nodeRow, parentID int64) error {
	noun := "technician group"
	if n.Kind == KindAdminGroup {
		noun = "administrator group"
	}
	p, err := refOfKind(ctx, db, parentID, "parent_id", noun, n.Kind, KindOrg)
	if err != nil {
		return err
	}
	if p.Kind == KindOrg && !sc.IsMaster() {
		return fault.OutOfScope("Only a master administrator may move a group to the top of the organisation.")
	}
	if err := sc.require(p.ID, noun); err != nil {
		return err
	}
	sk, err := loadSkeleton(ctx, db)
	if err != nil {
		return err
	}
	for _, id := range sk.subtree(n.ID) {
		if id == p.ID {
			return fault.Field("parent_id", "cannot move a group under itself or one of its subgroups")
		}
	}
	return nil
}

// DeleteGroup removes an empty group; a group with subgroups or members is refused.
func (s *Service) DeleteGroup(ctx context.Context, sc *Scope, id int64) error {
	if err := sc.requireAdmin(); err != nil {
		return err
	}
	return s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		n, err := nodeOfKind(ctx, tx, id, "group", KindTechGroup, KindAdminGroup)
		if err != nil {
			return err
		}
		if n.Kind == KindAdminGroup {
			if err := sc.requireMaster("delete administrator groups"); err != nil {
				return err
			}
		} else if err := sc.require(n.ID, "technician group"); err != nil {
			return err
		}
		count, err := tx.NewSelect().Table("nodes").Where("parent_id = ?", id).Count(ctx)
		if err != nil {
			return fmt.Errorf("count children of %d: %w", id, err)
		}
		if count > 0 {
			return fault.New(fault.Conflict, "group_not_empty", "The group still has %d subgroups or members; move or delete them first.", count)
		}
		if _, err := tx.NewDelete().Model((*nodeRow)(nil)).Where("id = ?", id).Exec(ctx); err != nil {
			return fmt.Errorf("delete group %d: %w", id, err)
		}
		return nil
	})
}
