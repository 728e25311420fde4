package org

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/tetherhq/tether/core/fault"
)

// ChannelPatch renames or describes a channel (CH-1); channels are never created or deleted.
type ChannelPatch struct {
	Name        *string `json:"name" validate:"omitnil,min=1,max=128"`
	Description *string `json:"description" validate:"omitnil,max=1024"`
}

// Channels lists the channels the caller may see, by number.
func (s *Service) Channels(ctx context.Context, sc *Scope) ([]Channel, error) {
	all, err := s.loadChannels(ctx, s.DB)
	if err != nil {
		return nil, err
	}
	out := []Channel{}
	for _, c := range all {
		if sc.Sees(c.ID) {
			out = append(out, c)
		}
	}
	return out, nil
}

// Channel returns one channel the caller may see.
func (s *Service) Channel(ctx context.Context, sc *Scope, id int64) (Channel, error) {
	return s.channel(ctx, s.DB, sc, id)
}

func (s *Service) channel(ctx context.Context, db bun.IDB, sc *Scope, id int64) (Channel, error) {
	if _, err := nodeOfKind(ctx, db, id, "channel", KindChannel); err != nil {
		return Channel{}, err
	}
	if !sc.Sees(id) {
		return Channel{}, fault.OutOfScope("Channel %d is outside your scope.", id)
	}
	all, err := s.loadChannels(ctx, db)
	if err != nil {
		return Channel{}, err
	}
	for _, c := range all {
		if c.ID == id {
			return c, nil
		}
	}
	return Channel{}, fault.NotFoundf("channel", "No channel with id %d.", id)
}

func (s *Service) loadChannels(ctx context.Context, db bun.IDB) ([]Channel, error) {
	var nodes []nodeRow
	if err := db.NewSelect().Model(&nodes).Where("kind = ?", KindChannel).Scan(ctx); err != nil {
		return nil, fmt.Errorf("load channels: %w", err)
	}
	var numbers []channelRow
	if err := db.NewSelect().Model(&numbers).Scan(ctx); err != nil {
		return nil, fmt.Errorf("load channels: %w", err)
	}
	var groups []channelGroupRow
	if err := db.NewSelect().Model(&groups).OrderExpr("tech_group_id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("load channel groups: %w", err)
	}
	var excl []channelExclusionRow
	if err := db.NewSelect().Model(&excl).OrderExpr("technician_id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("load channel exclusions: %w", err)
	}
	num := map[int64]int{}
	for _, c := range numbers {
		num[c.NodeID] = c.Number
	}
	out := make([]Channel, 0, len(nodes))
	for _, n := range nodes {
		c := Channel{Unit: n.unit(), Number: num[n.ID], Groups: []int64{}, Excluded: []int64{}}
		for _, g := range groups {
			if g.ChannelID == n.ID {
				c.Groups = append(c.Groups, g.TechGroupID)
			}
		}
		for _, e := range excl {
			if e.ChannelID == n.ID {
				c.Excluded = append(c.Excluded, e.TechnicianID)
			}
		}
		out = append(out, c)
	}
	sortChannels(out)
	return out, nil
}

func sortChannels(cs []Channel) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j].Number < cs[j-1].Number; j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
}

// UpdateChannel renames or describes a channel in the caller's scope.
func (s *Service) UpdateChannel(ctx context.Context, sc *Scope, id int64, p ChannelPatch) (Channel, error) {
	if err := sc.requireAdmin(); err != nil {
		return Channel{}, err
	}
	trimPtr(p.Name)
	trimPtr(p.Description)
	if err := fault.Validate(p); err != nil {
		return Channel{}, err
	}
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		n, err := nodeOfKind(ctx, tx, id, "channel", KindChannel)
		if err != nil {
			return err
		}
		if err := sc.require(id, "channel"); err != nil {
			return err
		}
		setIf(&n.Name, p.Name)
		setIf(&n.Description, p.Description)
		n.UpdatedAt = s.now()
		if _, err := tx.NewUpdate().Model(&n).WherePK().Exec(ctx); err != nil {
			return fmt.Errorf("update channel %d: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return Channel{}, err
	}
	return s.channel(ctx, s.DB, sc, id)
}

// AssignChannel links a channel to a technician group (CH-2). Administrators
// may link any channel to a group in their scope; the channel then enters
// their scope.
func (s *Service) AssignChannel(ctx context.Context, sc *Scope, channelID, groupID int64) (Channel, error) {
	if err := sc.requireAdmin(); err != nil {
		return Channel{}, err
	}
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := nodeOfKind(ctx, tx, channelID, "channel", KindChannel); err != nil {
			return err
		}
		if _, err := refOfKind(ctx, tx, groupID, "group_id", "technician group", KindTechGroup); err != nil {
			return err
		}
		if err := sc.require(groupID, "technician group"); err != nil {
			return err
		}
		_, err := tx.NewInsert().Model(&channelGroupRow{ChannelID: channelID, TechGroupID: groupID}).
			On("CONFLICT DO NOTHING").Exec(ctx)
		if err != nil {
			return fmt.Errorf("assign channel %d to group %d: %w", channelID, groupID, err)
		}
		return nil
	})
	if err != nil {
		return Channel{}, err
	}
	sc2, err := s.ScopeOf(ctx, sc.Actor)
	if err != nil {
		return Channel{}, err
	}
	return s.channel(ctx, s.DB, sc2, channelID)
}

// UnassignChannel removes a channel from a technician group.
func (s *Service) UnassignChannel(ctx context.Context, sc *Scope, channelID, groupID int64) error {
	if err := sc.requireAdmin(); err != nil {
		return err
	}
	return s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := nodeOfKind(ctx, tx, channelID, "channel", KindChannel); err != nil {
			return err
		}
		if _, err := nodeOfKind(ctx, tx, groupID, "technician group", KindTechGroup); err != nil {
			return err
		}
		if err := sc.require(groupID, "technician group"); err != nil {
			return err
		}
		_, err := tx.NewDelete().Model((*channelGroupRow)(nil)).
			Where("channel_id = ? AND tech_group_id = ?", channelID, groupID).Exec(ctx)
		if err != nil {
			return fmt.Errorf("unassign channel %d from group %d: %w", channelID, groupID, err)
		}
		return nil
	})
}

// SetExclusion excludes (or re-includes) one technician from a channel of
// their group (CH-3).
func (s *Service) SetExclusion(ctx context.Context, sc *Scope, channelID, technicianID int64, excluded bool) (Channel, error) {
	if err := sc.requireAdmin(); err != nil {
		return Channel{}, err
	}
	err := s.inTx(ctx, func(ctx context.Context, tx bun.Tx) error {
		if _, err := nodeOfKind(ctx, tx, channelID, "channel", KindChannel); err != nil {
			return err
		}
		if _, err := nodeOfKind(ctx, tx, technicianID, "technician", KindTechnician); err != nil {
			return err
		}
		if err := sc.require(technicianID, "technician"); err != nil {
			return err
		}
		row := &channelExclusionRow{ChannelID: channelID, TechnicianID: technicianID}
		var err error
		if excluded {
			_, err = tx.NewInsert().Model(row).On("CONFLICT DO NOTHING").Exec(ctx)
		} else {
			_, err = tx.NewDelete().Model(row).WherePK().Exec(ctx)
		}
		if err != nil {
			return fmt.Errorf("set exclusion of %d on channel %d: %w", technicianID, channelID, err)
		}
		return nil
	})
	if err != nil {
		return Channel{}, err
	}
	return s.channel(ctx, s.DB, MasterScope(sc.Actor.ID), channelID)
}

// channelName is the default name of channel n (CH-1).
func channelName(n int) string { return fmt.Sprintf("Channel %d", n) }

// ChannelTechnicians lists the technicians who take a channel's sessions:
// the members of every group it is assigned to, minus exclusions (CH-2, CH-3).
func (s *Service) ChannelTechnicians(ctx context.Context, channelID int64) ([]int64, error) {
	chs, err := s.loadChannels(ctx, s.DB)
	if err != nil {
		return nil, err
	}
	for _, c := range chs {
		if c.ID != channelID {
			continue
		}
		excluded := map[int64]bool{}
		for _, x := range c.Excluded {
			excluded[x] = true
		}
		var out []int64
		for _, g := range c.Groups {
			var ids []int64
			if err := s.DB.NewSelect().Table("nodes").Column("id").
				Where("parent_id = ? AND kind = ? AND enabled", g, KindTechnician).OrderExpr("id").Scan(ctx, &ids); err != nil {
				return nil, fmt.Errorf("technicians of group %d: %w", g, err)
			}
			for _, id := range ids {
				if !excluded[id] {
					out = append(out, id)
				}
			}
		}
		return out, nil
	}
	return nil, fault.NotFoundf("channel", "No channel with id %d.", channelID)
}
