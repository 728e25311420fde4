package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tetherhq/tether/core/routing"
)

// Pack rules come after every administrator rule of the list: an
// administrator's matching rule overrides any pack. Packs are tried in the
// order of their plugin IDs, and each pack's rules in their own priority order.
const packPriorityBase = 100_000

// PackRuleID is the ID a pack's rule carries in routing decisions, failures
// and /metrics: negative, so that it never collides with a stored rule.
func PackRuleID(packID int64, index int) int64 { return -(packID*1000 + int64(index) + 1) }

// Compiled returns the compiled rules routing tries for a list, in order:
// the list's own rules, then (for a channel) the rules of the packs enabled
// on it. The result is cached until a rule or pack changes; callers must not
// modify it.
func (s *Service) Compiled(ctx context.Context, l List) ([]routing.CompiledRule, error) {
	s.mu.Lock()
	c, ok := s.cache[l]
	gen := s.gen
	s.mu.Unlock()
	if ok && (s.CacheTTL <= 0 || time.Since(c.built) < s.CacheTTL) {
		return c.rules, nil
	}
	built := time.Now()
	rules, err := s.build(ctx, l)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	// Rules built before a change are not kept: they may predate it.
	if gen == s.gen {
		if s.cache == nil {
			s.cache = map[List]compiledList{}
		}
		s.cache[l] = compiledList{rules: rules, built: built}
	}
	s.mu.Unlock()
	return rules, nil
}

// compiledList is a list's compiled rules and when they were read.
type compiledList struct {
	rules []routing.CompiledRule
	built time.Time
}

func (s *Service) invalidate() {
	s.mu.Lock()
	s.gen++
	s.cache = nil
	s.mu.Unlock()
}

func (s *Service) build(ctx context.Context, l List) ([]routing.CompiledRule, error) {
	rows, err := listRows(ctx, s.DB, l)
	if err != nil {
		return nil, err
	}
	var rules []routing.Rule
	for _, r := range rows {
		rule, err := r.rule()
		if err != nil {
			return nil, err
		}
		rules = append(rules, rule)
	}
	if l.ChannelID != 0 {
		packRules, err := s.channelPackRules(ctx, l.ChannelID)
		if err != nil {
			return nil, err
		}
		rules = append(rules, packRules...)
	}
	out := make([]routing.CompiledRule, 0, len(rules))
	for _, r := range rules {
		c, err := routing.CompileRule(r)
		if err != nil {
			// Checked when saved; only a change of the rule language since
			// then gets here. The rule is left out and shown as failing.
			s.Failures.Record(routing.Failure{RuleID: r.ID, RuleName: r.Name, Step: -1, Err: fmt.Errorf("no longer compiles: %w", err)})
			continue
		}
		out = append(out, c)
	}
	routing.SortRules(out)
	return out, nil
}

// channelPackRules returns the rules of the packs enabled on a channel,
// applied to that channel: a pack cannot know a site's channel IDs, so its
// applies_to is replaced by the channel and a target of kind "channel" means
// the channel the pack is enabled on.
func (s *Service) channelPackRules(ctx context.Context, channelID int64) ([]routing.Rule, error) {
	var packs []packRow
	if err := s.DB.NewSelect().Model(&packs).
		Where("id IN (SELECT pack_id FROM routing_pack_channels WHERE channel_id = ?)", channelID).
		OrderExpr("plugin_id").Scan(ctx); err != nil {
		return nil, fmt.Errorf("load packs of channel %d: %w", channelID, err)
	}
	var out []routing.Rule
	for n, p := range packs {
		var rules []routing.Rule
		if err := json.Unmarshal([]byte(p.Rules), &rules); err != nil {
			return nil, fmt.Errorf("decode pack %d: %w", p.ID, err)
		}
		ordered := make([]routing.CompiledRule, len(rules))
		for i, r := range rules {
			r.ID = int64(i)
			ordered[i] = routing.CompiledRule{Rule: r}
		}
		routing.SortRules(ordered)
		for k, o := range ordered {
			r := o.Rule
			r.ID = PackRuleID(p.ID, int(o.Rule.ID))
			r.Priority = packPriorityBase + n*MaxPackRules + k
			r.AppliesTo = routing.AppliesTo{ChannelIDs: []int64{channelID}}
			r.Then = forChannel(r.Then, channelID)
			out = append(out, r)
		}
	}
	return out, nil
}

func forChannel(t routing.Then, channelID int64) routing.Then {
	fix := func(tg routing.Target) routing.Target {
		if tg.Kind == routing.TargetChannel {
			return routing.Target{Kind: routing.TargetChannel, IDs: []int64{channelID}}
		}
		return tg
	}
	t.Target = fix(t.Target)
	steps := make([]routing.Step, len(t.Steps))
	for i, st := range t.Steps {
		st.Target = fix(st.Target)
		steps[i] = st
	}
	t.Steps = steps
	return t
}
