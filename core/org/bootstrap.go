package org

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
)

// BootstrapInput seeds an empty database.
type BootstrapInput struct {
	OrgName      string
	AdminEmail   string
	AdminName    string
	PasswordHash string
	MustChange   bool
}

// Bootstrap creates the organisation root, the ten channels (CH-1) and the
// first master administrator when the database holds no organisation yet.
// It reports whether it created anything; an existing organisation is left alone.
func (s *Service) Bootstrap(ctx context.Context, in BootstrapInput) (created bool, err error) {
	if err := fault.Validate(struct {
		Email string `json:"admin_email" validate:"required,mailbox,max=254"`
	}{normaliseEmail(in.AdminEmail)}); err != nil {
		return false, err
	}
	err = s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		n, err := tx.NewSelect().Table("nodes").Where("kind = ?", KindOrg).Count(ctx)
		if err != nil {
			return fmt.Errorf("look for organisation: %w", err)
		}
		if n > 0 {
			return nil
		}
		now := s.now()
		name := in.OrgName
		if name == "" {
			name = "My organisation"
		}
		root := nodeRow{Kind: KindOrg, Name: name, Enabled: true, CreatedAt: now, UpdatedAt: now}
		if _, err := tx.NewInsert().Model(&root).Returning("id").Exec(ctx); err != nil {
			return fmt.Errorf("create organisation: %w", err)
		}
		for i := 1; i <= ChannelCount; i++ {
			ch := nodeRow{ParentID: &root.ID, Kind: KindChannel, Name: channelName(i), Enabled: true, CreatedAt: now, UpdatedAt: now}
			if _, err := tx.NewInsert().Model(&ch).Returning("id").Exec(ctx); err != nil {
				return fmt.Errorf("create channel %d: %w", i, err)
			}
			if _, err := tx.NewInsert().Model(&channelRow{NodeID: ch.ID, Number: i}).Exec(ctx); err != nil {
				return fmt.Errorf("create channel %d: %w", i, err)
			}
		}
		adminName := in.AdminName
		if adminName == "" {
			adminName = "Master administrator"
		}
		admin := nodeRow{ParentID: &root.ID, Kind: KindMaster, Name: adminName, Enabled: true, CreatedAt: now, UpdatedAt: now}
		if _, err := tx.NewInsert().Model(&admin).Returning("id").Exec(ctx); err != nil {
			return fmt.Errorf("create master administrator: %w", err)
		}
		m := memberRow{NodeID: admin.ID, Email: normaliseEmail(in.AdminEmail), PasswordHash: in.PasswordHash,
			PasswordChangedAt: &now, MustChangePassword: in.MustChange}
		if _, err := tx.NewInsert().Model(&m).Exec(ctx); err != nil {
			return fmt.Errorf("create master administrator: %w", err)
		}
		created = true
		return nil
	})
	return created, err
}

// Bootstrapped reports whether the organisation exists.
func (s *Service) Bootstrapped(ctx context.Context) (bool, error) {
	n, err := s.DB.NewSelect().Table("nodes").Where("kind = ?", KindOrg).Count(ctx)
	return n > 0, err
}

func fieldErr(field, why string) error { return fault.Field(field, why) }
