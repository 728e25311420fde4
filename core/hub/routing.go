package hub

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tetherhq/tether/core/httpapi"
	"github.com/tetherhq/tether/core/org"
	"github.com/tetherhq/tether/core/queue"
	"github.com/tetherhq/tether/core/routing"
	"github.com/tetherhq/tether/core/rules"
	"github.com/tetherhq/tether/core/session"
	"github.com/tetherhq/tether/core/sessions"
	"github.com/tetherhq/tether/core/settings"
)

// routingRules gives the sessions service the routing rules (core/rules)
// and their environment: settings, the organisation and presence.
type routingRules struct {
	rules    *rules.Service
	org      *org.Service
	settings *settings.Service
	presence presence
	sessions func() *sessions.Service
	router   *routing.Router
	now      func() time.Time
}

var _ sessions.Routing = routingRules{}

func (a routingRules) Router() *routing.Router { return a.router }

func (a routingRules) Rules(ctx context.Context, l sessions.RuleList) ([]routing.CompiledRule, error) {
	return a.rules.Compiled(ctx, rules.List{ChannelID: l.ChannelID, GroupID: l.GroupID})
}

// Technicians are the enabled technicians who are not offline.
func (a routingRules) Technicians(ctx context.Context) ([]routing.TechnicianEnv, error) {
	all := org.MasterScope(0)
	ms, err := a.org.ListMembers(ctx, all, org.MemberFilter{Role: org.KindTechnician})
	if err != nil {
		return nil, err
	}
	chs, err := a.org.Channels(ctx, all)
	if err != nil {
		return nil, err
	}
	now := a.now()
	out := make([]routing.TechnicianEnv, 0, len(ms))
	for _, m := range ms {
		if !m.Enabled || m.ParentID == nil {
			continue
		}
		c, _, err := a.presence.Candidate(ctx, m.ID)
		if err != nil {
			return nil, err
		}
		if c.Status == queue.StatusOffline {
			continue
		}
		t := routing.TechnicianEnv{ID: m.ID, Name: m.Name, GroupID: *m.ParentID, ChannelIDs: []int64{},
			Skills: m.Skills, Languages: m.Languages, Status: string(c.Status), ActiveSessions: c.Active}
		if c.Active == 0 && !c.IdleSince.IsZero() {
			t.IdleSeconds = int(now.Sub(c.IdleSince).Seconds())
		}
		for _, ch := range chs {
			if slices.Contains(ch.Groups, t.GroupID) && !slices.Contains(ch.Excluded, m.ID) {
				t.ChannelIDs = append(t.ChannelIDs, ch.ID)
			}
		}
		out = append(out, t)
	}
	return out, nil
}

// Env describes a real waiting session.
func (a routingRules) Env(ctx context.Context, v sessions.Session, techs []routing.TechnicianEnv) (routing.Env, error) {
	se, err := a.sessionEnv(ctx, v)
	if err != nil {
		return routing.Env{}, err
	}
	return a.envFor(ctx, se, 0, techs)
}

// sessionEnv is a real session as rules see it: a channel session of the
// channel it waits in, or a private session of its technician group.
func (a routingRules) sessionEnv(ctx context.Context, v sessions.Session) (routing.SessionEnv, error) {
	se := routing.SessionEnv{Kind: routing.SessionPrivate, TrackingID: v.Fields.TrackingID, Platform: v.Platform,
		Language: v.Language, ClientKind: v.ClientKind}
	if v.Kind == session.Channel && v.ChannelID != nil {
		se.Kind, se.ChannelID = routing.SessionChannel, *v.ChannelID
		if v.QueueKind == sessions.QueueChannel {
			se.ChannelID = v.QueueID // transferred: the channel it waits in
		}
	} else if v.TechGroupID != nil {
		se.GroupID = *v.TechGroupID
	}
	names, err := a.fieldNames(ctx)
	if err != nil {
		return routing.SessionEnv{}, err
	}
	se.Fields = make(map[string]string, len(names))
	for i, n := range names {
		if n != "" {
			se.Fields[n] = v.Fields.CField[i]
		}
	}
	se.SetCFields(v.Fields.CField)
	if agg := v.Aggregate; agg != nil {
		se.TransferCount = agg.TransferCount
		if agg.State == session.Waiting {
			se.WaitingSeconds = int(a.now().Sub(agg.StateSince).Seconds())
		}
	}
	return se, nil
}

// envFor completes a session's environment for the list that routes it: a
// channel session by its channel's, a private one by its group's. others
// counts sessions waiting besides the stored ones (a hand-written one).
func (a routingRules) envFor(ctx context.Context, se routing.SessionEnv, others int, techs []routing.TechnicianEnv) (routing.Env, error) {
	l, unit := sessions.RuleList{ChannelID: se.ChannelID}, se.ChannelID
	if se.Kind == routing.SessionPrivate {
		l, unit = sessions.RuleList{GroupID: se.GroupID}, se.GroupID
	}
	waiting, err := a.sessions().Waiting(ctx, l)
	if err != nil {
		return routing.Env{}, err
	}
	return a.envAt(ctx, se, unit, waiting+others, techs)
}

func (a routingRules) fieldNames(ctx context.Context) ([sessions.FieldCount]string, error) {
	root, err := a.org.RootID(ctx)
	if err != nil {
		return [sessions.FieldCount]string{}, err
	}
	f, err := settings.Get[sessions.FieldNames](ctx, a.settings, root, FieldNamesSection)
	return f.Names, err
}

// envAt completes a session's environment with the clock in unit's
// working-hours time zone and the queue facts.
func (a routingRules) envAt(ctx context.Context, se routing.SessionEnv, unit int64, waiting int, techs []routing.TechnicianEnv) (routing.Env, error) {
	if se.ChannelID != 0 && se.ChannelName == "" {
		if u, err := a.org.UnitByID(ctx, se.ChannelID); err == nil {
			se.ChannelName = u.Name
		}
	}
	wh := *queue.DefaultWorkingHours()
	if unit != 0 {
		var err error
		if wh, err = settings.Get[queue.WorkingHours](ctx, a.settings, unit, queue.WorkingHoursSection); err != nil {
			return routing.Env{}, err
		}
	}
	loc, err := time.LoadLocation(wh.TimeZone)
	if err != nil {
		loc = time.UTC
	}
	now := a.now()
	q := routing.QueueEnv{Waiting: waiting, Available: map[int]int{}}
	for _, t := range techs {
		if t.Status == string(queue.StatusOnline) {
			q.Available[int(t.GroupID)]++
			q.AvailableTotal++
		}
	}
	return routing.Env{Session: se, Clock: routing.ClockAt(now, loc, wh.Open(now)), Queue: q}, nil
}

// ruleFailures exports the rules' run-time failures to /metrics.
type ruleFailures struct {
	log   *routing.FailureLog
	total *prometheus.Desc
}

func newRuleFailures(log *routing.FailureLog) *ruleFailures {
	return &ruleFailures{log: log, total: prometheus.NewDesc("tether_routing_rule_failures_total",
		"Routing rules skipped because they failed at run time, by rule ID (pack rules are negative; 0 is the router itself).",
		[]string{"rule"}, nil)}
}

func (c *ruleFailures) Describe(ch chan<- *prometheus.Desc) { ch <- c.total }

func (c *ruleFailures) Collect(ch chan<- prometheus.Metric) {
	for id, f := range c.log.Snapshot() {
		ch <- prometheus.MustNewConstMetric(c.total, prometheus.CounterValue, float64(f.Count), strconv.FormatInt(id, 10))
	}
}

// wireRouting gives the sessions service the routing rules and exports
// their run-time failures.
func (h *Hub) wireRouting(cfg Config, pres presence) {
	h.Rules = rules.New(cfg.DB, h.Org)
	h.Rules.Now = cfg.Now
	h.Rules.CacheTTL = RulesCacheTTL
	h.routing = routingRules{rules: h.Rules, org: h.Org, settings: h.Settings, presence: pres,
		sessions: func() *sessions.Service { return h.Sessions }, router: &routing.Router{OnFailure: h.Rules.Failures.Record}, now: cfg.Now}
	h.Sessions.Routing = h.routing
	h.Sessions.RouteChanged = func(int64) { h.queueChanged() }
	if cfg.Registry != nil {
		cfg.Registry.MustRegister(newRuleFailures(h.Rules.Failures))
	}
}

// technicianStatusChanged re-evaluates the rules of waiting sessions: a
// step's filter may read the technician's status.
func (h *Hub) technicianStatusChanged() {
	h.rerouteAll.request(func() {
		if err := h.Sessions.RerouteWaiting(h.ctx); err != nil {
			h.log.Warn("reroute waiting sessions", "error", err)
		}
	})
}

// DryRun explains how rules route a real or hand-written session waiting
// to be routed by the list in (a channel's, or a technician group's for a
// private session), against the technicians signed in now. Failures are
// shown, not counted.
func (a routingRules) DryRun(ctx context.Context, in httpapi.DryRunInput, cs []routing.CompiledRule) (routing.Decision, error) {
	techs, err := a.Technicians(ctx)
	if err != nil {
		return routing.Decision{}, err
	}
	var se routing.SessionEnv
	others := 0
	if in.SessionID != 0 {
		v, err := a.sessions().Get(ctx, in.SessionID)
		if err != nil {
			return routing.Decision{}, err
		}
		if se, err = a.sessionEnv(ctx, v); err != nil {
			return routing.Decision{}, err
		}
	} else {
		if se, err = a.handWritten(ctx, in.Session); err != nil {
			return routing.Decision{}, err
		}
		others = 1
	}
	// The list decides what kind of session it routes.
	if in.GroupID != 0 {
		se.Kind, se.ChannelID, se.GroupID = routing.SessionPrivate, 0, in.GroupID
	} else {
		se.Kind, se.ChannelID, se.GroupID = routing.SessionChannel, in.ChannelID, 0
	}
	se.ChannelName = ""
	env, err := a.envFor(ctx, se, others, techs)
	if err != nil {
		return routing.Decision{}, err
	}
	return a.router.Explain(cs, env, techs), nil
}

// handWritten is a dry run's hand-written session, its custom fields given
// by name, by index or both.
func (a routingRules) handWritten(ctx context.Context, h *httpapi.DryRunSession) (routing.SessionEnv, error) {
	se := routing.SessionEnv{Fields: map[string]string{},
		TrackingID: h.TrackingID, Platform: h.Platform, Language: h.Language, ClientKind: h.ClientKind,
		CallingCard: h.CallingCard, WaitingSeconds: h.WaitingSeconds, TransferCount: h.TransferCount}
	var cf [sessions.FieldCount]string
	copy(cf[:], h.CFields)
	names, err := a.fieldNames(ctx)
	if err != nil {
		return routing.SessionEnv{}, err
	}
	for i, n := range names {
		if v, ok := h.Fields[n]; ok && n != "" && cf[i] == "" {
			cf[i] = v
		}
	}
	se.SetCFields(cf)
	for k, v := range h.Fields {
		se.Fields[k] = v
	}
	for i, n := range names {
		if n != "" {
			se.Fields[n] = cf[i]
		}
	}
	return se, nil
}
