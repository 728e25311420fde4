package pluginhost

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tetherhq/tether/core/pluginhost/delivery"
	"github.com/tetherhq/tether/sdk"
)

// unitEntry caches the unit whose settings govern a session's events.
type unitEntry struct {
	unit int64
	at   time.Time
}

// unitTTL bounds how stale the cached unit of a session may be: a transfer
// moves a session to another group, and its later events must use that
// group's settings.
const unitTTL = 2 * time.Second

// settingsUnit is the unit whose plugin settings apply to a session's
// events: the group of the technician handling it (P2U-1 is per technician
// group), else the group that created it, else its channel.
func (h *Host) settingsUnit(ctx context.Context, sessionID int64) (int64, error) {
	if e, ok := h.units.Load(sessionID); ok && time.Since(e.(unitEntry).at) < unitTTL {
		return e.(unitEntry).unit, nil
	}
	unit, err := h.cfg.Sessions.HandlingGroup(ctx, sessionID)
	if err != nil {
		return 0, fmt.Errorf("session %d: %w", sessionID, err)
	}
	if unit == 0 {
		v, err := h.cfg.Sessions.Get(ctx, sessionID)
		if err != nil {
			return 0, fmt.Errorf("session %d: %w", sessionID, err)
		}
		if v.ChannelID != nil {
			unit = *v.ChannelID
		}
	}
	if unit == 0 {
		// No group or channel: the organisation's settings apply.
		unit, err = h.cfg.Org.RootID(ctx)
		if err != nil {
			return 0, err
		}
	}
	h.units.Store(sessionID, unitEntry{unit: unit, at: time.Now()})
	return unit, nil
}

// deliver hands one delivery to its plugin with the settings of the
// session's unit, or skips it when the plugin is disabled there.
func (h *Host) deliver(ctx context.Context, d delivery.Delivery) (sdk.Result, error) {
	proc, err := h.Supervisor.Process(d.Plugin)
	if err != nil {
		return sdk.Result{}, err
	}
	unit, err := h.settingsUnit(ctx, d.SessionID)
	if err != nil {
		return sdk.Result{}, err
	}
	raw, enabled, err := h.effective(ctx, d.Plugin, unit)
	if err != nil {
		return sdk.Result{}, err
	}
	if !enabled {
		return sdk.Result{}, fmt.Errorf("%w: plugin %s is not enabled for unit %d", delivery.ErrSkip, d.Plugin, unit)
	}
	e := d.Event()
	e.UnitID, e.Config = unit, raw
	return proc.HandleEvent(ctx, e)
}

type configKey struct {
	plugin string
	unit   int64
}

// configEntry caches a plugin's effective settings for one unit.
type configEntry struct {
	raw     json.RawMessage
	enabled bool
	at      time.Time
}

// effective is the plugin's settings for unit as the plugin receives them.
// Saves through this host clear the cache at once; the TTL bounds how long
// a save on another hub node takes to apply here.
func (h *Host) effective(ctx context.Context, plugin string, unit int64) (json.RawMessage, bool, error) {
	key := configKey{plugin, unit}
	if e, ok := h.configs.Load(key); ok && time.Since(e.(configEntry).at) < unitTTL {
		return e.(configEntry).raw, e.(configEntry).enabled, nil
	}
	values, enabled, err := h.Settings.Effective(ctx, plugin, unit)
	if err != nil {
		return nil, false, fmt.Errorf("settings of plugin %s for unit %d: %w", plugin, unit, err)
	}
	raw, err := jsonObject(values)
	if err != nil {
		return nil, false, err
	}
	h.configs.Store(key, configEntry{raw: raw, enabled: enabled, at: time.Now()})
	return raw, enabled, nil
}

func jsonObject(values map[string]any) (json.RawMessage, error) {
	if values == nil {
		return json.RawMessage("{}"), nil
	}
	b, err := json.Marshal(values)
	if err != nil {
		return nil, fmt.Errorf("encode plugin settings: %w", err)
	}
	return b, nil
}
